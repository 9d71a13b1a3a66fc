"""Pictures: image grids, training curves, mean/std plots, point clouds and voxel grids
(matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def to_displayable(
    image: np.ndarray,
    shape: tuple[int, ...] | None = None,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Reshape a row (D,) to `shape` and rescale its values to [0, 1] for imshow.

    Inputs:
    - image: (D,), (H, W), (H, W, 1) or (H, W, 3) array of any range.
    - shape: (H, W) or (H, W, 3) to reshape a flat row into; guessed for a square grey row.
    - value_range: (lo, hi) mapped to 0 and 1 (values outside are clipped); None uses the
      image's own minimum and maximum.
    Returns an array of shape (H, W) or (H, W, 3) with values in [0, 1].
    """
    img = np.asarray(image, dtype=float)
    if img.ndim == 1:
        if shape is None:
            side = int(round(np.sqrt(img.size)))
            if side * side != img.size:
                raise ValueError(
                    f"cannot guess the shape of a row of {img.size} pixels; pass shape=(H, W)"
                )
            shape = (side, side)
        img = img.reshape(shape)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
        raise ValueError(
            f"an image must be (H, W) or (H, W, 3), got shape {img.shape}; move channels "
            f"last with image.transpose(1, 2, 0)"
        )
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return np.zeros_like(img)
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must be (lo, hi) with hi > lo, got {value_range}")
    else:
        lo, hi = finite.min(), finite.max()
    img = np.clip(np.nan_to_num(img, nan=lo), lo, hi)
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    shape: tuple[int, ...] | None = None,
    cell_size: float = 1.2,
    suptitle: str | None = None,
    value_range: tuple[float, float] | str | None = None,
):
    """Show images (N, D), (N, H, W) or (N, H, W, C) with C in (1, 3) in a grid.

    value_range: None rescales each image to its own range; "shared" uses one range for
    all (the smallest and largest value of the batch), so brightness differences show;
    (lo, hi) maps lo to black and hi to white. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid got no images")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    if isinstance(value_range, str):
        if value_range != "shared":
            raise ValueError(f"value_range must be None, 'shared' or (lo, hi), got {value_range!r}")
        finite = images[np.isfinite(images)]
        value_range = (finite.min(), finite.max()) if finite.size else None
        if value_range is not None and value_range[1] <= value_range[0]:
            value_range = None
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell_size * ncols, cell_size * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = to_displayable(images[i], shape, value_range)
            # NOTE: vmin and vmax, or imshow would stretch each grey image to its own range.
            cmap = "gray" if img.ndim == 2 else None
            ax.imshow(img, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_mean_std(
    x: Sequence[float],
    values: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    ax=None,
):
    """Plot the mean of `values` (len(x), R) over R repeats with a +/- 1 std band."""
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] != len(x):
        raise ValueError(f"values must have shape ({len(x)}, repeats), got {values.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    mean, std = values.mean(axis=1), values.std(axis=1)
    for xi, row in zip(x, values, strict=True):
        ax.scatter([xi] * len(row), row, s=8, color="0.6")
    ax.errorbar(x, mean, yerr=std, marker="o", capsize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def _curves(run) -> dict[str, np.ndarray]:
    """The loss (per step or epoch), train and validation accuracy (per epoch) of a run.

    A run is a `Solver` after `train`, a history dict (keys "loss" or "train_loss",
    "train_acc", "val_acc", as `cs231n_lib.blocks.fit` returns), or a sequence of losses.
    """
    if hasattr(run, "loss_history"):
        run = {
            "loss": run.loss_history,
            "train_acc": run.train_acc_history,
            "val_acc": run.val_acc_history,
        }
    elif not isinstance(run, Mapping):
        run = {"loss": run}
    curves = {}
    for key, aliases in [
        ("loss", ("loss", "train_loss")),
        ("train_acc", ("train_acc",)),
        ("val_acc", ("val_acc",)),
    ]:
        for alias in aliases:
            if run.get(alias) is not None and len(run[alias]):
                curves[key] = np.asarray(run[alias], dtype=float)
                break
    if not curves:
        raise ValueError(
            f"found no curves in {type(run).__name__}: expected a Solver, a dict with "
            f"'loss'/'train_loss', 'train_acc' or 'val_acc', or a sequence of losses"
        )
    return curves


def training_curves(runs, title: str | None = None, smooth: int = 1, log_loss: bool = False):
    """Loss and accuracy curves of one training run or of several side by side.

    Inputs:
    - runs: one run, or a dict label -> run; a run is a trained `Solver`, a history dict
      ("loss" or "train_loss", "train_acc", "val_acc") or a sequence of losses.
    - title: figure title.
    - smooth: moving-average window for the loss (per-step losses are noisy); 1 is raw.
    - log_loss: a log scale for the loss axis (to compare runs that differ a lot).
    Returns the Figure: the loss on the left; on the right, if any run has accuracies,
    training (dashed) and validation (solid) accuracy per epoch, one colour per run.
    """
    import matplotlib.pyplot as plt

    if isinstance(runs, Mapping) and not any(
        key in runs for key in ("loss", "train_loss", "train_acc", "val_acc")
    ):
        labelled = {str(label): _curves(run) for label, run in runs.items()}
    else:
        labelled = {"": _curves(runs)}
    if smooth < 1:
        raise ValueError(f"smooth must be a window of at least 1 step, got {smooth}")
    has_acc = any("val_acc" in c or "train_acc" in c for c in labelled.values())
    fig, axes = plt.subplots(
        1, 2 if has_acc else 1, figsize=(11 if has_acc else 6, 3.6), squeeze=False
    )
    ax_loss = axes[0, 0]
    for i, (label, curves) in enumerate(labelled.items()):
        color = f"C{i % 10}"
        if "loss" in curves:
            loss = curves["loss"]
            if smooth > 1 and len(loss) >= smooth:
                loss = np.convolve(loss, np.ones(smooth) / smooth, mode="valid")
            ax_loss.plot(
                np.arange(len(loss)) + (smooth - 1 if smooth > 1 else 0),
                loss,
                color=color,
                lw=1,
                marker="." if len(loss) < 30 else None,  # a short run shows its points
                label=label or None,
            )
        if has_acc:
            for key, style in (("train_acc", "--"), ("val_acc", "-")):
                if key in curves:
                    name = "train" if key == "train_acc" else "val"
                    axes[0, 1].plot(
                        curves[key], style, color=color, marker=".", label=f"{label} {name}".strip()
                    )
    ax_loss.set(xlabel="step (or epoch)", ylabel="loss", title="training loss")
    if log_loss:
        ax_loss.set_yscale("log")
    ax_loss.grid(alpha=0.3)
    if len(labelled) > 1:
        ax_loss.legend(fontsize=8)
    if has_acc:
        axes[0, 1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        axes[0, 1].grid(alpha=0.3)
        axes[0, 1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _axes_3d(count: int, ncols: int, size: float):
    """A figure of `count` 3-D axes, `ncols` a row, each size x size inches: (fig, axes)."""
    import matplotlib.pyplot as plt

    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    fig = plt.figure(figsize=(size * ncols, size * nrows))
    axes = [fig.add_subplot(nrows, ncols, k + 1, projection="3d") for k in range(count)]
    return fig, axes


def point_clouds(
    clouds: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    colors: Sequence | None = None,
    ncols: int = 4,
    size: float = 2.6,
    point_size: float = 2.0,
    limit: float = 1.0,
):
    """Draw each cloud (P, 3) in its own 3-D axes, all on the cube [-limit, limit]^3.

    colors: None (one colour), or one entry per cloud: None, a colour name, a (P,) array of
    values (coloured by viridis) or a (P,) sequence of colour names. Returns the Figure.
    """
    clouds = [np.asarray(cloud, dtype=float) for cloud in clouds]
    if not clouds:
        raise ValueError("point_clouds got no clouds")
    for k, cloud in enumerate(clouds):
        if cloud.ndim != 2 or cloud.shape[1] != 3:
            raise ValueError(f"cloud {k} must be (P, 3) points, got shape {cloud.shape}")
    for name, given in (("titles", titles), ("colors", colors)):
        if given is not None and len(given) != len(clouds):
            raise ValueError(f"got {len(given)} {name} for {len(clouds)} clouds")
    fig, axes = _axes_3d(len(clouds), ncols, size)
    for k, (ax, cloud) in enumerate(zip(axes, clouds, strict=True)):
        color = "tab:blue" if colors is None or colors[k] is None else colors[k]
        ax.scatter(*cloud.T, s=point_size, c=color, depthshade=False)
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), zlim=(-limit, limit))
        ax.set(xticks=[], yticks=[], zticks=[])
        ax.set_box_aspect((1, 1, 1))
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    fig.tight_layout()
    return fig


def voxel_grids(
    grids: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 2.6,
    color: str = "tab:blue",
):
    """Draw each occupancy grid (R, R, R) (nonzero = occupied) as cubes in its own 3-D axes,
    axis i of the grid along x, y, z in turn. Returns the Figure."""
    grids = [np.asarray(grid) for grid in grids]
    if not grids:
        raise ValueError("voxel_grids got no grids")
    for k, grid in enumerate(grids):
        if grid.ndim != 3:
            raise ValueError(f"grid {k} must be (R, R, R), got shape {grid.shape}")
    if titles is not None and len(titles) != len(grids):
        raise ValueError(f"got {len(titles)} titles for {len(grids)} grids")
    fig, axes = _axes_3d(len(grids), ncols, size)
    for k, (ax, grid) in enumerate(zip(axes, grids, strict=True)):
        ax.voxels(grid != 0, facecolors=color, edgecolor="k", linewidth=0.1)
        ax.set(xticks=[], yticks=[], zticks=[])
        ax.set_box_aspect((1, 1, 1))
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    fig.tight_layout()
    return fig
