"""Pictures: image grids and training curves (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_displayable(image: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Reshape a row (D,) to `shape` and rescale its values to [0, 1] for imshow.

    Inputs:
    - image: (D,), (H, W) or (H, W, 3) array of any range.
    - shape: (H, W) or (H, W, 3) to reshape a flat row into; required for a row.
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
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
        raise ValueError(
            f"an image must be (H, W) or (H, W, 3), got shape {img.shape}; move channels "
            f"last with image.transpose(1, 2, 0)"
        )
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return np.zeros_like(img)
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
):
    """Show images (N, D), (N, H, W) or (N, H, W, 3) in a grid; return the Figure."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid got no images")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell_size * ncols, cell_size * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = to_displayable(images[i], shape)
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
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
