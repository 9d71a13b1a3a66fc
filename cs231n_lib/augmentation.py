"""Data augmentation: random crops, horizontal flips, colour jitter and rotations.

Every numpy function takes a batch of images (N, H, W, C) of floats with values in [0, 1]
and returns a new batch of the same shape; the input is never modified. Randomness comes
from an explicit np.random.Generator, and each random transform draws one parameter per
image (an offset, a coin, a factor, an angle) and applies it with a deterministic
function that tests and plots can call directly:

| random transform                    | deterministic core                            |
| ----------------------------------- | --------------------------------------------- |
| random_crop(images, padding, rng)   | crop_with_padding(images, tops, lefts, ...)   |
| random_horizontal_flip(images, rng) | horizontal_flip(images, flip)                 |
| color_jitter(images, rng, ...)      | adjust_brightness / _contrast / _saturation   |
| random_rotation(images, rng, ...)   | rotate(images, angles)                        |

`augment` chains them. `cs231n_lib.blocks.augmentation` has the same transforms on torch
tensors (N, C, H, W) on any device, drawing from the same numpy Generator.
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights: how bright red, green and blue look to a person.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must hold floats in [0, 1], got dtype {images.dtype}")
    return images


def _per_image(values, num_images: int, name: str) -> np.ndarray:
    """A scalar or (N,) parameter as a float array of shape (N,)."""
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), (num_images,))
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {values}")
    return values


def _check_strength(value: float, name: str, limit: float = np.inf) -> float:
    if isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{name} must lie in [0, {limit}], got {value!r}")
    return float(value)


# --- random crop with padding ----------------------------------------------------------------


def crop_with_padding(
    images: np.ndarray, tops: np.ndarray, lefts: np.ndarray, padding: int, fill: float = 0.0
) -> np.ndarray:
    """Pad each image by `padding` pixels of value `fill`, then cut an H x W window.

    Inputs:
    - images: (N, H, W, C).
    - tops, lefts: (N,) integers in 0..2 * padding, the window's corner in the padded image;
      tops = lefts = padding gives the image back.
    - padding: pixels added on every side, >= 0.
    Returns (N, H, W, C): image i shifted by (padding - tops[i], padding - lefts[i]).
    """
    images = _check_images(images)
    N, H, W, _ = images.shape
    if isinstance(padding, bool) or not isinstance(padding, int | np.integer) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    tops = np.broadcast_to(np.asarray(tops), (N,))
    lefts = np.broadcast_to(np.asarray(lefts), (N,))
    for name, offsets in (("tops", tops), ("lefts", lefts)):
        if (
            not np.issubdtype(offsets.dtype, np.integer)
            or offsets.min(initial=0) < 0
            or (offsets.max(initial=0) > 2 * padding)
        ):
            raise ValueError(f"{name} must be integers in 0..{2 * padding}, got {offsets}")
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    padded = np.pad(images, pad, constant_values=fill)  # (N, H + 2p, W + 2p, C)
    rows = tops[:, None] + np.arange(H)  # (N, H)
    cols = lefts[:, None] + np.arange(W)  # (N, W)
    return padded[np.arange(N)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_crop(
    images: np.ndarray, padding: int, rng: np.random.Generator, fill: float = 0.0
) -> np.ndarray:
    """Shift each image by a random offset of up to `padding` pixels in each direction.

    The classic CIFAR-10 augmentation: pad by `padding`, cut a random H x W window.
    Inputs: images (N, H, W, C); padding >= 0; rng; fill, the padding's value.
    Returns (N, H, W, C).
    """
    images = _check_images(images)
    tops, lefts = rng.integers(0, 2 * padding + 1, size=(2, len(images)))
    return crop_with_padding(images, tops, lefts, padding, fill)


# --- horizontal flip --------------------------------------------------------------------------


def horizontal_flip(images: np.ndarray, flip: np.ndarray | bool = True) -> np.ndarray:
    """Mirror left and right the images where `flip` is True.

    Inputs: images (N, H, W, C); flip, a bool or (N,) bools. Returns (N, H, W, C).
    """
    images = _check_images(images)
    flip = np.broadcast_to(np.asarray(flip, dtype=bool), (len(images),))
    return np.where(flip[:, None, None, None], images[:, :, ::-1], images)


def random_horizontal_flip(
    images: np.ndarray, rng: np.random.Generator, p: float = 0.5
) -> np.ndarray:
    """Mirror each image with probability p. Returns (N, H, W, C)."""
    images = _check_images(images)
    p = _check_strength(p, "p", 1.0)
    return horizontal_flip(images, rng.random(len(images)) < p)


# --- colour jitter ----------------------------------------------------------------------------


def grayscale(images: np.ndarray) -> np.ndarray:
    """Luma of each pixel, (N, H, W, 1): weighted RGB for C = 3, the image itself for C = 1."""
    images = _check_images(images)
    channels = images.shape[-1]
    if channels == 1:
        return images.copy()
    if channels != 3:
        raise ValueError(f"colour functions need C = 1 or C = 3 channels, got C = {channels}")
    return (images @ LUMA_WEIGHTS)[..., None]


def adjust_brightness(images: np.ndarray, factors) -> np.ndarray:
    """Scale every pixel of image i by factors[i] (0 gives black, 1 the image); clip to [0, 1].

    Inputs: images (N, H, W, C); factors, a scalar or (N,), >= 0. Returns (N, H, W, C).
    """
    images = _check_images(images)
    factors = _per_image(factors, len(images), "brightness factors")
    return np.clip(images * factors[:, None, None, None], 0.0, 1.0)


def adjust_contrast(images: np.ndarray, factors) -> np.ndarray:
    """Blend image i with its mean grey level: factor 0 gives flat grey, 1 the image.

    out = mean + factors[i] * (image - mean), mean the image's average luma; clipped to
    [0, 1]. Inputs as in adjust_brightness.
    """
    images = _check_images(images)
    factors = _per_image(factors, len(images), "contrast factors")[:, None, None, None]
    mean = grayscale(images).mean(axis=(1, 2, 3), keepdims=True)  # (N, 1, 1, 1)
    return np.clip(mean + factors * (images - mean), 0.0, 1.0)


def adjust_saturation(images: np.ndarray, factors) -> np.ndarray:
    """Blend each pixel with its own grey: factor 0 gives a grey image, 1 the image.

    out = grey + factors[i] * (image - grey); clipped to [0, 1]. A grey image (C = 1)
    has no colour to change. Inputs as in adjust_brightness.
    """
    images = _check_images(images)
    factors = _per_image(factors, len(images), "saturation factors")[:, None, None, None]
    grey = grayscale(images)  # (N, H, W, 1)
    return np.clip(grey + factors * (images - grey), 0.0, 1.0)


def _jitter_factors(
    rng: np.random.Generator, num_images: int, brightness: float, contrast: float, saturation: float
) -> np.ndarray:
    """(3, N) factors drawn uniformly from [1 - strength, 1 + strength] (never below 0)."""
    strengths = np.array(
        [
            _check_strength(brightness, "brightness"),
            _check_strength(contrast, "contrast"),
            _check_strength(saturation, "saturation"),
        ]
    )[:, None]
    low = np.maximum(1 - strengths, 0.0)
    return rng.uniform(low, 1 + strengths, size=(3, num_images))


def color_jitter(
    images: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
) -> np.ndarray:
    """Random brightness, then contrast, then saturation, each factor from [1 - s, 1 + s].

    Inputs: images (N, H, W, C) in [0, 1] with C = 1 or 3; rng; the three strengths s >= 0
    (0 leaves that property alone). Returns (N, H, W, C).
    """
    images = _check_images(images)
    factors = _jitter_factors(rng, len(images), brightness, contrast, saturation)
    out = adjust_brightness(images, factors[0])
    out = adjust_contrast(out, factors[1])
    return adjust_saturation(out, factors[2])


# --- rotation ---------------------------------------------------------------------------------


def _source_coordinates(height: int, width: int, angles: np.ndarray):
    """Where each output pixel of an image rotated by `angles` (degrees) comes from.

    Rotation about the centre ((H - 1) / 2, (W - 1) / 2), counterclockwise as displayed
    (rows grow downwards). Returns rows, cols of shape (N, H, W), fractional.
    """
    theta = np.deg2rad(angles)[:, None, None]  # (N, 1, 1)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y = np.arange(height)[None, :, None] - cy  # (1, H, 1), relative to the centre
    x = np.arange(width)[None, None, :] - cx  # (1, 1, W)
    cos, sin = np.cos(theta), np.sin(theta)
    # Inverse mapping: rotate each output position back by -angle to find its source.
    src_x = cos * x - sin * y + cx  # (N, H, W)
    src_y = sin * x + cos * y + cy
    return src_y, src_x


def bilinear_sample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill: float = 0.0):
    """Values of each image at fractional positions, by bilinear interpolation.

    Outside the image the value is `fill`, and positions within a pixel of the border
    blend the edge with `fill`, so the result is continuous in the positions.
    Inputs: images (N, H, W, C); rows, cols (N, P, Q) in pixel units (row 0 is the top).
    Returns (N, P, Q, C).
    """
    images = _check_images(images)
    N, H, W, _ = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
    # In padded coordinates, everything beyond the one-pixel frame is `fill` anyway.
    rows = np.clip(rows + 1.0, 0.0, H + 1.0)
    cols = np.clip(cols + 1.0, 0.0, W + 1.0)
    r0 = np.minimum(np.floor(rows).astype(np.int64), H)  # (N, P, Q); r0 + 1 <= H + 1
    c0 = np.minimum(np.floor(cols).astype(np.int64), W)
    wr = (rows - r0)[..., None]  # (N, P, Q, 1), weight of the lower row r0 + 1
    wc = (cols - c0)[..., None]
    n = np.arange(N)[:, None, None]
    top = (1 - wc) * padded[n, r0, c0] + wc * padded[n, r0, c0 + 1]
    bottom = (1 - wc) * padded[n, r0 + 1, c0] + wc * padded[n, r0 + 1, c0 + 1]
    return (1 - wr) * top + wr * bottom


def rotate(images: np.ndarray, angles, fill: float = 0.0) -> np.ndarray:
    """Rotate image i by angles[i] degrees counterclockwise about its centre (bilinear).

    Corners that come from outside the image get `fill`.
    Inputs: images (N, H, W, C); angles, a scalar or (N,) in degrees. Returns (N, H, W, C).
    """
    images = _check_images(images)
    N, H, W, _ = images.shape
    rows, cols = _source_coordinates(H, W, _per_image(angles, N, "angles"))
    return bilinear_sample(images, rows, cols, fill)


def random_rotation(
    images: np.ndarray, rng: np.random.Generator, max_degrees: float, fill: float = 0.0
) -> np.ndarray:
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees]."""
    images = _check_images(images)
    max_degrees = _check_strength(max_degrees, "max_degrees", 180.0)
    return rotate(images, rng.uniform(-max_degrees, max_degrees, size=len(images)), fill)


# --- everything at once -----------------------------------------------------------------------


def augment(
    images: np.ndarray,
    rng: np.random.Generator,
    padding: int = 0,
    flip: bool = False,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    max_degrees: float = 0.0,
) -> np.ndarray:
    """Random crop, flip, colour jitter and rotation, each one skipped at strength 0.

    Inputs: images (N, H, W, C) in [0, 1]; rng; the strengths. Returns (N, H, W, C).
    """
    out = _check_images(images)
    if padding:
        out = random_crop(out, padding, rng)
    if flip:
        out = random_horizontal_flip(out, rng)
    if brightness or contrast or saturation:
        out = color_jitter(out, rng, brightness, contrast, saturation)
    if max_degrees:
        out = random_rotation(out, rng, max_degrees)
    return out
