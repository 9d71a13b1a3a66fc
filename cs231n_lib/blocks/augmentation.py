"""Data augmentation on torch tensors (N, C, H, W), on any device: the GPU path of the
numpy transforms in `cs231n_lib.augmentation` (05_regularization), for notebooks from 07 on.

Each function draws its random parameters from the same numpy Generator as its numpy
twin, so one seed gives the same batch in both.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cs231n_lib.augmentation import (
    LUMA_WEIGHTS,
    _check_strength,
    _jitter_factors,
    _per_image,
    _source_coordinates,
)


def _check_tensor(images: torch.Tensor) -> torch.Tensor:

    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(
            f"images must be a tensor (N, C, H, W), got {type(images).__name__} "
            f"of shape {tuple(getattr(images, 'shape', ()))}"
        )
    if not images.is_floating_point():
        raise TypeError(f"images must hold floats in [0, 1], got dtype {images.dtype}")
    return images


def _as_tensor(values, images: torch.Tensor) -> torch.Tensor:

    return torch.as_tensor(np.array(values), device=images.device)  # a copy: writable


def crop_with_padding_torch(
    images: torch.Tensor, tops, lefts, padding: int, fill: float = 0.0
) -> torch.Tensor:
    """crop_with_padding for a tensor (N, C, H, W); tops, lefts (N,) in 0..2 * padding."""

    images = _check_tensor(images)
    N, _, H, W = images.shape
    if isinstance(padding, bool) or not isinstance(padding, int | np.integer) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    padded = F.pad(images, (padding,) * 4, value=fill)  # (N, C, H + 2p, W + 2p)
    tops = _as_tensor(np.broadcast_to(tops, (N,)), images)
    lefts = _as_tensor(np.broadcast_to(lefts, (N,)), images)
    if tops.min() < 0 or lefts.min() < 0 or max(tops.max(), lefts.max()) > 2 * padding:
        raise ValueError(f"tops and lefts must lie in 0..{2 * padding}")
    arange = _as_tensor(np.arange(max(H, W)), images)
    rows = (tops[:, None] + arange[:H])[:, None, :, None]  # (N, 1, H, 1)
    cols = (lefts[:, None] + arange[:W])[:, None, None, :]  # (N, 1, 1, W)
    n = _as_tensor(np.arange(N), images)[:, None, None, None]
    c = _as_tensor(np.arange(images.shape[1]), images)[None, :, None, None]
    return padded[n, c, rows, cols]


def random_crop_torch(
    images: torch.Tensor, padding: int, rng: np.random.Generator, fill: float = 0.0
) -> torch.Tensor:
    """random_crop for a tensor (N, C, H, W); the same rng draws as the numpy version."""
    images = _check_tensor(images)
    tops, lefts = rng.integers(0, 2 * padding + 1, size=(2, len(images)))
    return crop_with_padding_torch(images, tops, lefts, padding, fill)


def horizontal_flip_torch(images: torch.Tensor, flip=True) -> torch.Tensor:
    """horizontal_flip for a tensor (N, C, H, W); flip a bool or (N,) bools."""

    images = _check_tensor(images)
    flip = _as_tensor(np.broadcast_to(np.asarray(flip, dtype=bool), (len(images),)), images)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_horizontal_flip_torch(
    images: torch.Tensor, rng: np.random.Generator, p: float = 0.5
) -> torch.Tensor:
    """random_horizontal_flip for a tensor (N, C, H, W)."""
    images = _check_tensor(images)
    p = _check_strength(p, "p", 1.0)
    return horizontal_flip_torch(images, rng.random(len(images)) < p)


def color_jitter_torch(
    images: torch.Tensor,
    rng: np.random.Generator,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
) -> torch.Tensor:
    """color_jitter for a tensor (N, C, H, W), C = 1 or 3."""
    images = _check_tensor(images)
    channels = images.shape[1]
    if channels not in (1, 3):
        raise ValueError(f"colour functions need C = 1 or C = 3 channels, got C = {channels}")
    factors = _as_tensor(
        _jitter_factors(rng, len(images), brightness, contrast, saturation), images
    ).to(images.dtype)[..., None, None, None]  # (3, N, 1, 1, 1)
    weights = _as_tensor(LUMA_WEIGHTS, images).to(images.dtype)[None, :, None, None]

    def grey(x):  # (N, 1, H, W)
        return x if channels == 1 else (x * weights).sum(dim=1, keepdim=True)

    out = (images * factors[0]).clamp(0, 1)
    mean = grey(out).mean(dim=(1, 2, 3), keepdim=True)
    out = (mean + factors[1] * (out - mean)).clamp(0, 1)
    g = grey(out)
    return (g + factors[2] * (out - g)).clamp(0, 1)


def rotate_torch(images: torch.Tensor, angles, fill: float = 0.0) -> torch.Tensor:
    """rotate for a tensor (N, C, H, W) with H, W >= 2, by torch's grid_sample."""

    images = _check_tensor(images)
    N, _, H, W = images.shape
    if H < 2 or W < 2:
        raise ValueError(f"rotate_torch needs H, W >= 2, got {H} x {W}")
    rows, cols = _source_coordinates(H, W, _per_image(angles, N, "angles"))  # (N, H, W)
    # align_corners=True puts -1 and 1 on the centres of the first and last pixels.
    grid = np.stack([cols / (W - 1), rows / (H - 1)], axis=-1) * 2 - 1  # (N, H, W, 2): x, y
    grid = torch.as_tensor(grid, device=images.device).to(images.dtype)
    # Zero padding of (images - fill) is padding with `fill`.
    shifted = F.grid_sample(images - fill, grid, mode="bilinear", align_corners=True)
    return shifted + fill


def random_rotation_torch(
    images: torch.Tensor, rng: np.random.Generator, max_degrees: float, fill: float = 0.0
) -> torch.Tensor:
    """random_rotation for a tensor (N, C, H, W)."""
    images = _check_tensor(images)
    max_degrees = _check_strength(max_degrees, "max_degrees", 180.0)
    return rotate_torch(images, rng.uniform(-max_degrees, max_degrees, size=len(images)), fill)


def augment_torch(
    images: torch.Tensor,
    rng: np.random.Generator,
    padding: int = 0,
    flip: bool = False,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    max_degrees: float = 0.0,
) -> torch.Tensor:
    """augment for a tensor (N, C, H, W): with the same rng state, the same batch."""
    out = _check_tensor(images)
    if padding:
        out = random_crop_torch(out, padding, rng)
    if flip:
        out = random_horizontal_flip_torch(out, rng)
    if brightness or contrast or saturation:
        out = color_jitter_torch(out, rng, brightness, contrast, saturation)
    if max_degrees:
        out = random_rotation_torch(out, rng, max_degrees)
    return out
