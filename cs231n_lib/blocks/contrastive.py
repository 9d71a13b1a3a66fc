"""Self-supervised features for small grey images (16_self_supervised/simclr.ipynb).

The notebook's student writes the SimCLR loss (NT-Xent) and its parts in its cells; this
module holds everything around that loss and takes it as an argument:

- ContrastiveEncoder: conv-BN-ReLU stages -> global average pooling -> the representation
  h (N, D) (`represent`), then a projection MLP g: h -> z (N, P) (`forward`), SimCLR's or
  DINO's (DINOHead: cosines of a normalized bottleneck with K prototypes);
- augmentations of tensors (N, C, H, W) in [0, 1], each switchable by name (AUGMENTATIONS,
  applied in that order): 05's crop with padding, rotation and brightness/contrast jitter
  (blocks.augmentation) and what SimCLR adds to them: a random resized crop, a Gaussian
  blur and pixel noise; `augment` draws one view, `two_views` two independent ones;
- train_simclr (the student's loss on the projections of two views), train_supervised
  (the same encoder with a linear head on h, cross-entropy: the "supervised features"),
  train_dino (a student and its momentum teacher: ema_update, dino_targets with centring
  and sharpening, dino_loss), all seeded fixed-step loops on blocks.training.train_steps;
- features (h of a trained encoder, numpy), label_subset (a seeded share of the labels
  of each class) and linear_probe (a logistic regression on standardized features).

Every random draw of an augmentation comes from a numpy Generator, as in
blocks.augmentation, so one seed gives the same views on every device.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.augmentation import (
    color_jitter_torch,
    random_crop_torch,
    random_rotation_torch,
)
from cs231n_lib.blocks.training import (
    epoch_batches,
    predict_in_batches,
    seeded_adamw_steps,
)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_images(X, name: str = "images") -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        shape = tuple(getattr(X, "shape", ()))
        raise ValueError(f"{name} must be a tensor (N, C, H, W), got {type(X).__name__} {shape}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must hold floats in [0, 1], got dtype {X.dtype}")
    return X


# -- the encoder -----------------------------------------------------------------------------


class DINOHead(nn.Module):
    """DINO's projection head: h (N, D) -> scores (N, K), each the cosine in [-1, 1] of an
    L2-normalized bottleneck (N, B) with one of K learned prototypes (unit rows: weight
    normalization with the gain fixed at 1, no bias). The MLP before the bottleneck is
    Linear(D, hidden)-BN-GELU-Linear(hidden, hidden)-BN-GELU-Linear(hidden, B); bounded
    scores keep the teacher's sharp softmax in check (temperature 0.04: logits within +-25);
    without them the scale of the outputs drifts and the targets collapse."""

    def __init__(
        self, in_dim: int, num_prototypes: int, hidden_dim: int = 256, bottleneck_dim: int = 64
    ):
        super().__init__()
        in_dim = _check_positive_int(in_dim, "in_dim")
        hidden_dim = _check_positive_int(hidden_dim, "hidden_dim")
        bottleneck_dim = _check_positive_int(bottleneck_dim, "bottleneck_dim")
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, bottleneck_dim),
        )
        K = _check_positive_int(num_prototypes, "num_prototypes")
        self.prototypes = nn.Parameter(0.1 * torch.randn(K, bottleneck_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        bottleneck = F.normalize(self.mlp(h), dim=1)  # (N, B), unit rows
        return bottleneck @ F.normalize(self.prototypes, dim=1).T  # (N, K)


class ContrastiveEncoder(nn.Module):
    """Images (N, in_channels, H, W) -> representation h (N, D) -> projection z (N, P).

    backbone: one stage per entry of widths, each `convs_per_stage` 3x3 conv-BN-ReLU (no
    conv bias: batch norm has one), a 2x2 max pooling before every stage but the first;
    `represent` averages the last stage over space: h, D = widths[-1]. projector, with
    head="simclr": the MLP g of SimCLR, Linear(D, hidden_dim)-BN-ReLU-Linear(hidden_dim,
    projection_dim) (hidden_dim defaults to D); with head="dino": DINOHead(D,
    projection_dim prototypes, hidden_dim, default 256). `forward` returns z = g(h). The
    linear probe reads h, not z (SimCLR's finding: the layer before the projection keeps
    more of what the augmentations remove).
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        projection_dim: int = 64,
        hidden_dim: int | None = None,
        convs_per_stage: int = 1,
        head: str = "simclr",
    ):
        super().__init__()
        in_channels = _check_positive_int(in_channels, "in_channels")
        convs_per_stage = _check_positive_int(convs_per_stage, "convs_per_stage")
        if len(widths) == 0:
            raise ValueError("widths must hold one width per stage, got none")
        if head not in ("simclr", "dino"):
            raise ValueError(f"head must be 'simclr' or 'dino', got {head!r}")
        layers: list[nn.Module] = []
        width_in = in_channels
        for i, width in enumerate(widths):
            width = _check_positive_int(width, f"widths[{i}]")
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(convs_per_stage):
                layers += [
                    nn.Conv2d(width_in, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                ]
                width_in = width
        self.backbone = nn.Sequential(*layers)
        self.representation_dim = width_in
        self.projection_dim = _check_positive_int(projection_dim, "projection_dim")
        if head == "dino":
            hidden = 256 if hidden_dim is None else hidden_dim
            self.projector: nn.Module = DINOHead(width_in, self.projection_dim, hidden)
        else:
            hidden = width_in if hidden_dim is None else _check_positive_int(hidden_dim, "hidden")
            self.projector = nn.Sequential(
                nn.Linear(width_in, hidden),
                nn.BatchNorm1d(hidden),
                nn.ReLU(),
                nn.Linear(hidden, self.projection_dim),
            )
        self.in_channels = in_channels

    def represent(self, X: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> h (N, D): the last stage averaged over space."""
        _check_images(X, "X")
        if X.shape[1] != self.in_channels:
            raise ValueError(f"this encoder reads C={self.in_channels} channels, got {X.shape[1]}")
        return self.backbone(X).mean(dim=(2, 3))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.projector(self.represent(X))  # (N, P)


# -- augmentations ---------------------------------------------------------------------------


def resized_crop_torch(images: torch.Tensor, boxes) -> torch.Tensor:
    """Each image (N, C, H, W) cut to its box and stretched back to H x W, bilinearly.

    boxes (N, 4): (top, left, height, width) in pixels, floats allowed; output pixel (i, j)
    of image n samples the source at row top + (i + 0.5) height / H - 0.5 and column
    left + (j + 0.5) width / W - 0.5 (pixel centres map to pixel centres), the border
    value repeated outside the image. A box (0, 0, H, W) gives the image back.
    """
    images = _check_images(images)
    N, _, H, W = images.shape
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape != (N, 4) or not np.all(np.isfinite(boxes)) or np.any(boxes[:, 2:] <= 0):
        raise ValueError(f"boxes must be ({N}, 4) finite (top, left, height > 0, width > 0)")
    top, left, height, width = (boxes[:, k, None] for k in range(4))
    rows = top + (np.arange(H) + 0.5) * height / H - 0.5  # (N, H) source rows
    cols = left + (np.arange(W) + 0.5) * width / W - 0.5  # (N, W)
    # grid_sample's x, y in [-1, 1] with align_corners=False: -1 and 1 are the outer edges.
    x = np.broadcast_to(((2 * cols + 1) / W - 1)[:, None, :], (N, H, W))
    y = np.broadcast_to(((2 * rows + 1) / H - 1)[:, :, None], (N, H, W))
    grid = torch.as_tensor(np.stack([x, y], axis=-1), device=images.device).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop_boxes(
    rng: np.random.Generator,
    num_images: int,
    H: int,
    W: int,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> np.ndarray:
    """(num_images, 4) boxes (top, left, height, width) for resized_crop_torch: the area a
    share of H W uniform in `scale`, the aspect width / height log-uniform in `ratio`, each
    side at most the image's, the box uniformly placed inside the image."""
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}")
    area = rng.uniform(*scale, size=num_images) * H * W
    aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1]), size=num_images))
    height = np.minimum(np.sqrt(area / aspect), H)
    width = np.minimum(np.sqrt(area * aspect), W)
    top = rng.uniform(0, 1, size=num_images) * (H - height)
    left = rng.uniform(0, 1, size=num_images) * (W - width)
    return np.stack([top, left, height, width], axis=1)


def gaussian_blur_per_image(images: torch.Tensor, sigmas, radius: int) -> torch.Tensor:
    """Each image (N, C, H, W) blurred by its own Gaussian, sigmas (N,) in pixels (0: left as
    it is), a separable kernel of `radius` on each side, the edges mirrored without repeating
    the border pixel (d c b | a b c d: scipy.ndimage's mode "mirror"). Returns (N, C, H, W)."""
    images = _check_images(images)
    N, C, H, W = images.shape
    radius = _check_positive_int(radius, "radius")
    if radius >= min(H, W):
        raise ValueError(f"radius {radius} must be below the image side {min(H, W)}")
    sigmas = np.broadcast_to(np.asarray(sigmas, dtype=np.float64), (N,))
    if np.any(sigmas < 0) or not np.all(np.isfinite(sigmas)):
        raise ValueError(f"sigmas must be finite and >= 0, got {sigmas}")
    offsets = np.arange(-radius, radius + 1)
    safe = np.where(sigmas > 0, sigmas, 1.0)[:, None]
    kernels = np.exp(-0.5 * (offsets[None, :] / safe) ** 2)  # (N, 2R + 1)
    kernels[sigmas == 0] = offsets == 0  # no blur: a unit impulse
    kernels /= kernels.sum(axis=1, keepdims=True)
    weight = torch.as_tensor(np.repeat(kernels, C, axis=0), device=images.device)
    weight = weight.to(images.dtype)  # (N C, 2R + 1): one kernel per image and channel
    out = images.reshape(1, N * C, H, W)
    out = F.conv2d(
        F.pad(out, (radius, radius, 0, 0), mode="reflect"), weight[:, None, None, :], groups=N * C
    )
    out = F.conv2d(
        F.pad(out, (0, 0, radius, radius), mode="reflect"), weight[:, None, :, None], groups=N * C
    )
    return out.reshape(N, C, H, W)


# name -> default settings. augment applies them in this order; the first three are new to
# SimCLR, the last three are 05's (blocks.augmentation).
AUGMENTATIONS: dict[str, dict] = {
    "resized_crop": {"scale": (0.5, 1.0), "ratio": (3 / 4, 4 / 3)},
    "crop": {"padding": 3},  # 05's shift: pad by this many pixels, cut a random window
    "rotation": {"max_degrees": 15.0},
    "jitter": {"brightness": 0.4, "contrast": 0.4},  # grey images: no saturation
    "blur": {"p": 0.5, "sigma": (0.1, 1.2)},  # applied to a share p of the images
    "noise": {"std": 0.05},  # Gaussian, std uniform in [0, std] per image
}


def _settings(augmentations) -> dict[str, dict]:
    """Names (a sequence) or name -> overrides (a mapping) as name -> full settings."""
    if isinstance(augmentations, str):
        raise TypeError(
            f"augmentations must be a sequence of names, got the string {augmentations!r}"
        )
    chosen = augmentations if isinstance(augmentations, Mapping) else dict.fromkeys(augmentations)
    unknown = [name for name in chosen if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentations {unknown}; choose from {list(AUGMENTATIONS)}")
    out = {}
    for name, defaults in AUGMENTATIONS.items():
        if name in chosen:
            extra = chosen[name] or {}
            wrong = [key for key in extra if key not in defaults]
            if wrong:
                raise ValueError(f"{name} takes settings {list(defaults)}, got {wrong}")
            out[name] = {**defaults, **extra}
    return out


def augment(
    images: torch.Tensor,
    rng: np.random.Generator,
    augmentations: Sequence[str] | Mapping[str, dict] = tuple(AUGMENTATIONS),
    strength: float = 1.0,
) -> torch.Tensor:
    """One random view of each image (N, C, H, W) in [0, 1], on the images' device.

    augmentations: names of AUGMENTATIONS (their default settings), or a mapping name ->
    settings that override the defaults; they run in the order of AUGMENTATIONS whatever
    the order given. strength in [0, 1] scales every one (the crop's missing area, the
    padding, the angle, the jitter, the largest blur and the noise); 0 gives the images
    back. All parameters are drawn from rng; the images are never changed in place.
    """
    images = _check_images(images)
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must lie in [0, 1], got {strength!r}")
    out = images
    N, _, H, W = images.shape
    if strength == 0:
        return out.clone()
    for name, s in _settings(augmentations).items():
        if name == "resized_crop":
            low = 1 - strength * (1 - s["scale"][0])
            ratio = tuple(math.exp(strength * math.log(r)) for r in s["ratio"])
            boxes = random_resized_crop_boxes(rng, N, H, W, (low, s["scale"][1]), ratio)
            out = resized_crop_torch(out, boxes)
        elif name == "crop" and round(strength * s["padding"]) > 0:
            out = random_crop_torch(out, int(round(strength * s["padding"])), rng)
        elif name == "rotation":
            out = random_rotation_torch(out, rng, strength * s["max_degrees"])
        elif name == "jitter":
            out = color_jitter_torch(
                out, rng, brightness=strength * s["brightness"], contrast=strength * s["contrast"]
            )
        elif name == "blur":
            low, high = s["sigma"][0] * strength, s["sigma"][1] * strength
            sigmas = rng.uniform(low, high, size=N) * (rng.random(N) < s["p"])
            out = gaussian_blur_per_image(out, sigmas, max(1, min(math.ceil(3 * high), H - 1)))
        elif name == "noise":
            stds = rng.uniform(0, strength * s["std"], size=N)[:, None, None, None]
            noise = rng.standard_normal(size=tuple(out.shape)) * stds
            out = (out + torch.as_tensor(noise, device=out.device).to(out.dtype)).clamp(0, 1)
    return out


def two_views(
    images: torch.Tensor,
    rng: np.random.Generator,
    augmentations: Sequence[str] | Mapping[str, dict] = tuple(AUGMENTATIONS),
    strength: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent views (left, right), each (N, C, H, W), of every image: the left
    views are drawn first from rng, then the right ones."""
    left = augment(images, rng, augmentations, strength)
    return left, augment(images, rng, augmentations, strength)


# The notebook's budgets, train_* keyword arguments measured at 1 thread on 8,000 cluttered
# training digits (seed 0, the default ContrastiveEncoder; probes with 10% of the labels, on
# 1,000 validation or test images; random features of the untrained encoder: 0.64 val, 0.66
# test; about 0.6 s a SimCLR step of 256 images on an idle core):
# - "simclr": tau 0.2 and all six augmentations: 500 steps 0.889 (test), 150 steps 0.846. At
#   500 steps, without blur and resized_crop 0.868 val / 0.881 test; a milder resized crop
#   (scale 0.7-1) and blur on 30% 0.875 / 0.887: within a point of each other.
# - "table": the short runs of the temperature and augmentation tables (about 40 s each);
#   tau 0.05 / 0.1 / 0.2 / 0.5 / 1 gave 0.762 / 0.772 / 0.773 / 0.765 / 0.739 (val).
# - "supervised": cross-entropy on every label with 05's crop and rotation: 0.952 val (64 s).
# - "dino": head="dino", K = 256: 300 steps 0.740 val / 0.780 test (241 s). In 150-step runs,
#   SimCLR's unbounded head gave 0.642 (random features' level), DINOHead without batch norm
#   collapsed to uniform targets (0.604), teacher momentum 0.99 gave 0.702 against 0.735 for
#   0.95, and a teacher temperature of 0.02 made the targets sharper but not the features.
RECIPES: dict[str, dict] = {
    "simclr": {"num_steps": 500, "batch_size": 256, "learning_rate": 2e-3, "tau": 0.2},
    "table": {"num_steps": 100, "batch_size": 128, "learning_rate": 2e-3},
    "supervised": {
        "num_steps": 300,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "augmentations": ("crop", "rotation"),
    },
    "dino": {"num_steps": 300, "batch_size": 256, "learning_rate": 2e-3, "teacher_momentum": 0.95},
}


# -- training --------------------------------------------------------------------------------


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _train_seeded(
    model: nn.Module,
    parameters,
    batch_loss,
    num_steps,
    learning_rate,
    weight_decay,
    seed,
    desc,
    progress,
) -> dict:
    """blocks.training.seeded_adamw_steps on `parameters`, then the model in eval mode."""
    history = seeded_adamw_steps(
        model,
        batch_loss,
        num_steps,
        learning_rate,
        weight_decay,
        seed,
        desc,
        progress,
        parameters=parameters,
    )
    model.eval()
    return history


def _as_images(X) -> torch.Tensor:
    if np.ndim(X) != 4:
        raise ValueError(f"X must be images (N, C, H, W), got shape {np.shape(X)}")
    return torch.as_tensor(np.asarray(X), dtype=torch.float32)


def train_simclr(
    encoder: ContrastiveEncoder,
    X: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
    num_steps: int,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    tau: float = 0.2,
    augmentations: Sequence[str] | Mapping[str, dict] = tuple(AUGMENTATIONS),
    seed: int = 0,
    weight_decay: float = 1e-4,
    progress: bool = True,
    desc: str = "SimCLR",
) -> dict[str, list[float] | float]:
    """Pretrain `encoder` with SimCLR for num_steps AdamW steps (a half-cosine learning rate).

    Each step draws batch_size images of X (N, C, H, W) in [0, 1] (epoch by epoch, every
    image once per epoch), two views of each (two_views with `augmentations`), and
    minimizes loss_fn(encoder(left), encoder(right), tau): the student's loss of the
    projections out_left, out_right (batch_size, P), a scalar tensor with gradient.
    Batches, views and torch's own draws all come from `seed`; the caller's global random
    state is left as it was; the encoder ends in eval mode.
    Returns train_steps' {"loss": per-step losses, "seconds", "seconds_per_step"}.
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    _settings(augmentations)
    images = _as_images(X)
    device = _device_of(encoder)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    next_batch = epoch_batches(len(images), batch_size, generator)

    def batch_loss() -> torch.Tensor:
        left, right = two_views(images[next_batch()].to(device), rng, augmentations)
        loss = loss_fn(encoder(left), encoder(right), tau)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not loss.requires_grad:
            got = (
                f"a tensor of shape {tuple(loss.shape)}, requires_grad={loss.requires_grad}"
                if isinstance(loss, torch.Tensor)
                else type(loss).__name__
            )
            raise ValueError(
                f"loss_fn must return a scalar tensor that has a gradient (no .item(), no "
                f"detach, no numpy inside), got {got}"
            )
        return loss

    return _train_seeded(
        encoder,
        encoder.parameters(),
        batch_loss,
        num_steps,
        learning_rate,
        weight_decay,
        seed,
        desc,
        progress,
    )


def train_supervised(
    encoder: ContrastiveEncoder,
    X: np.ndarray,
    y: np.ndarray,
    num_steps: int,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    augmentations: Sequence[str] | Mapping[str, dict] = (),
    seed: int = 0,
    weight_decay: float = 1e-4,
    progress: bool = True,
    desc: str = "supervised",
) -> dict:
    """Train `encoder`'s backbone with labels: a linear head on h = encoder.represent(x),
    softmax cross-entropy, num_steps AdamW steps (a half-cosine learning rate), one view
    per image (augment with `augmentations`; () for the images as they are). The projector
    is not used. Seeded like train_simclr; the encoder ends in eval mode.
    Returns train_steps' history plus "head": the trained nn.Linear(D, num_classes), in
    eval mode, with num_classes = y.max() + 1.
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    images = _as_images(X)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if labels.shape != (len(images),):
        raise ValueError(f"y must hold one label per image, ({len(images)},), got {labels.shape}")
    _settings(augmentations)
    device = _device_of(encoder)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    next_batch = epoch_batches(len(images), batch_size, generator)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = nn.Linear(encoder.representation_dim, int(labels.max()) + 1).to(device)
    model = nn.ModuleDict({"encoder": encoder, "head": head})

    def batch_loss() -> torch.Tensor:
        batch = next_batch()
        inputs = images[batch].to(device)
        if augmentations:
            inputs = augment(inputs, rng, augmentations)
        return F.cross_entropy(head(encoder.represent(inputs)), labels[batch].to(device))

    parameters = [*encoder.backbone.parameters(), *head.parameters()]
    history = _train_seeded(
        model,
        parameters,
        batch_loss,
        num_steps,
        learning_rate,
        weight_decay,
        seed,
        desc,
        progress,
    )
    return {**history, "head": head}


# -- DINO: self-distillation with no labels ----------------------------------------------------


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher's parameters <- momentum teacher + (1 - momentum) student, in place (an
    exponential moving average); buffers (batch norm's statistics) are left alone."""
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum!r}")
    pairs = list(zip(teacher.parameters(), student.parameters(), strict=True))
    for t, s in pairs:
        if t.shape != s.shape:
            raise ValueError(f"teacher and student differ: {tuple(t.shape)} vs {tuple(s.shape)}")
        t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)


def dino_targets(teacher_out: torch.Tensor, center: torch.Tensor, temperature: float):
    """The teacher's targets (N, K): softmax((teacher_out - center) / temperature) over K.

    Centring (subtracting a running mean of the teacher's outputs) stops one dimension from
    winning for every image; sharpening (a low temperature) stops the targets from
    flattening to uniform. No gradient flows into them.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return F.softmax((teacher_out.detach() - center) / temperature, dim=1)


def dino_loss(student_out: torch.Tensor, targets: torch.Tensor, temperature: float):
    """Mean over the N rows of the cross-entropy -sum_k targets log softmax(student_out /
    temperature), student_out and targets (N, K): a scalar tensor."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return -(targets * F.log_softmax(student_out / temperature, dim=1)).sum(dim=1).mean()


def train_dino(
    student: ContrastiveEncoder,
    X: np.ndarray,
    num_steps: int,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    augmentations: Sequence[str] | Mapping[str, dict] = tuple(AUGMENTATIONS),
    seed: int = 0,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
    center_momentum: float = 0.9,
    teacher_momentum: float = 0.95,
    weight_decay: float = 1e-4,
    progress: bool = True,
    desc: str = "DINO",
) -> dict:
    """DINO (Caron et al., 2021) on two views of each image, num_steps AdamW steps.

    The teacher starts as a copy of `student` (whose projector outputs the K = P scores; a
    ContrastiveEncoder(head="dino") bounds them) and never gets gradients. Each step, for
    views v1, v2 of a batch:
    1. the teacher, after the previous step, moves to an EMA of the student (ema_update,
       the momentum rising from teacher_momentum to 1 along a half cosine);
    2. targets p_a = dino_targets(teacher(v_a), center, teacher_temperature), a = 1, 2;
    3. loss = (dino_loss(student(v2), p_1) + dino_loss(student(v1), p_2)) / 2 at
       student_temperature: each view predicts the teacher's output on the other;
    4. center <- center_momentum center + (1 - center_momentum) mean of the teacher's
       outputs on the batch (both views).
    Both networks run in train mode (batch statistics). Seeded like train_simclr.
    Returns train_steps' history plus "teacher" (in eval mode: its features are DINO's),
    "center" (K,) after the last step, "entropy" (per step, the mean entropy of the targets,
    in nats: near 0 when each image's target is one-hot) and "mean_entropy" (the entropy of
    the batch's mean target: log K when the images use all K dimensions alike, 0 when they
    all chose the same one).
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    num_steps = _check_positive_int(num_steps, "num_steps")
    for name, value in (
        ("center_momentum", center_momentum),
        ("teacher_momentum", teacher_momentum),
    ):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    _settings(augmentations)
    images = _as_images(X)
    device = _device_of(student)
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    center = torch.zeros(student.projection_dim, device=device)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    next_batch = epoch_batches(len(images), batch_size, generator)
    step = 0
    entropy: list[float] = []
    mean_entropy: list[float] = []

    def momentum_at(k: int) -> float:
        return 1 - (1 - teacher_momentum) * 0.5 * (1 + math.cos(math.pi * k / num_steps))

    def batch_loss() -> torch.Tensor:
        nonlocal step, center
        if step > 0:  # train_steps stepped the student since the last call
            ema_update(teacher, student, momentum_at(step - 1))
        step += 1
        views = two_views(images[next_batch()].to(device), rng, augmentations)
        teacher.train()
        with torch.no_grad():
            outs = [teacher(v) for v in views]
        targets = [dino_targets(out, center, teacher_temperature) for out in outs]
        s1, s2 = (student(v) for v in views)
        loss = (
            dino_loss(s2, targets[0], student_temperature)
            + dino_loss(s1, targets[1], student_temperature)
        ) / 2
        with torch.no_grad():
            both = torch.cat(targets)  # (2 B, K)
            entropy.append(float(-(both * both.clamp_min(1e-12).log()).sum(1).mean()))
            mean = both.mean(0)
            mean_entropy.append(float(-(mean * mean.clamp_min(1e-12).log()).sum()))
            center = center_momentum * center + (1 - center_momentum) * torch.cat(outs).mean(0)
        return loss

    history = _train_seeded(
        student,
        student.parameters(),
        batch_loss,
        num_steps,
        learning_rate,
        weight_decay,
        seed,
        desc,
        progress,
    )
    ema_update(teacher, student, momentum_at(num_steps - 1))
    teacher.eval()
    return {
        **history,
        "teacher": teacher,
        "center": center,
        "entropy": entropy,
        "mean_entropy": mean_entropy,
    }


# -- features and the linear probe -------------------------------------------------------------


class _Represent(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.encoder.represent(X)


def features(encoder: ContrastiveEncoder, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The representations h = encoder.represent(X) of images X (N, C, H, W): (N, D)
    float32 numpy, in eval mode without gradients, batch_size images at a time."""
    if not callable(getattr(encoder, "represent", None)):
        raise TypeError(f"encoder must have a represent method, got {type(encoder).__name__}")
    batch_size = _check_positive_int(batch_size, "batch_size")
    return predict_in_batches(_Represent(encoder), _as_images(X), batch_size).numpy()


def label_subset(y: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices into y (N,) of a seeded share `fraction` in (0, 1] of each class's
    examples: round(fraction n_c) of the n_c examples of class c, at least one, drawn
    without replacement, so every class is in the subset and in its proportion."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be labels (N,), got shape {y.shape}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        count = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def linear_probe(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    fraction: float = 1.0,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 2000,
) -> float:
    """Test accuracy of a logistic regression on frozen features.

    The classifier (scikit-learn's multinomial LogisticRegression, L2 penalty of inverse
    strength C) is fitted on label_subset(train_labels, fraction, seed) of the training
    features (N, D), each feature standardized by the mean and standard deviation of that
    subset; test_features (M, D) are scaled the same way. Returns the share of the M test
    labels it predicts.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_features, test_features = np.asarray(train_features), np.asarray(test_features)
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise ValueError(
            f"features must be (N, D) and (M, D), got {train_features.shape} and "
            f"{test_features.shape}"
        )
    if len(train_labels) != len(train_features) or len(test_labels) != len(test_features):
        raise ValueError("each feature row needs one label")
    chosen = label_subset(train_labels, fraction, seed)
    scaler = StandardScaler().fit(train_features[chosen])
    classifier = LogisticRegression(C=C, max_iter=max_iter)
    classifier.fit(scaler.transform(train_features[chosen]), np.asarray(train_labels)[chosen])
    predicted = classifier.predict(scaler.transform(test_features))
    return float(np.mean(predicted == np.asarray(test_labels)))
