"""Masked convolution in numpy: the causal layer of PixelCNN (12_generative).

An autoregressive image model factorizes p(x) = prod_i p(x_i | x_<i) over the pixels in
raster order (row by row, left to right in a row). A convolution can compute every
conditional at once if the output at pixel i never sees an input pixel j >= i: each
filter is multiplied by a mask that keeps the rows above the centre and, in the centre
row, the columns left of the centre.

- mask "A" (the first layer) also hides the centre: output i sees inputs j < i only, so it
  may predict pixel i from the pixels before it.
- mask "B" (every later layer) shows the centre: its input at i already depends on x_<i
  alone, so output i may use it (j <= i).

    kernel 5x5, "A":        kernel 5x5, "B":
      1 1 1 1 1               1 1 1 1 1
      1 1 1 1 1               1 1 1 1 1
      1 1 0 0 0               1 1 1 0 0
      0 0 0 0 0               0 0 0 0 0
      0 0 0 0 0               0 0 0 0 0

NOTE: this is the single-channel-group version: every output channel sees every input
channel at the visible positions. PixelCNN on colour images also orders the channels
(R before G before B at one pixel) with masks that differ per channel group; for binarized
or grey digits (one channel) the two are the same.

The layer is the numpy conv layer of `cs231n_lib.layers.conv` (im2col) with its weights
masked: forward convolves with w * mask, backward returns dw * mask (a masked weight has no
effect on the output, so its gradient is 0; an optimizer step then keeps it at 0 only if
it started there, which is why the mask is applied in every forward pass).

Shapes: x (N, C, H, W), w (F, C, HH, WW), b (F,), mask (F, C, HH, WW) or anything that
broadcasts to it ((HH, WW) for one mask shared by all channels), out (N, F, H', W').
HH and WW must be odd (the mask needs a centre). conv_param defaults to stride 1 and
"same" padding HH // 2 (which must equal WW // 2 if given as one pad), so that H' = H and
W' = W and output pixel i sits over input pixel i.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cs231n_lib.layers.conv import Cache, conv_backward_im2col, conv_forward_im2col

MASK_TYPES = ("A", "B")


def _kernel_shape(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
    if len(pair) != 2 or any(
        isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 or k % 2 == 0
        for k in pair
    ):
        raise ValueError(
            f"kernel_size must be an odd positive int or a pair of them (the mask needs a "
            f"centre pixel), got {kernel_size!r}"
        )
    return int(pair[0]), int(pair[1])


def pixelcnn_mask(
    kernel_size: int | tuple[int, int], mask_type: str, in_channels: int, out_channels: int
) -> np.ndarray:
    """The PixelCNN mask of a (kernel_h, kernel_w) filter, for every channel pair.

    Inputs:
    - kernel_size: K (a K x K kernel) or (HH, WW), odd.
    - mask_type: "A" hides the centre pixel (first layer), "B" shows it (later layers).
    - in_channels: C; out_channels: F.
    Returns mask (F, C, HH, WW) float64 of 0s and 1s: 1 at the rows above the centre and at
    the centre row's columns left of the centre (and the centre itself for "B").
    Single channel group: the same spatial mask for every (f, c), see the module.
    """
    kernel_h, kernel_w = _kernel_shape(kernel_size)
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    centre_h, centre_w = kernel_h // 2, kernel_w // 2
    spatial = np.ones((kernel_h, kernel_w))
    spatial[centre_h, centre_w + (mask_type == "B") :] = 0  # the centre row from i (A) or i+1 (B)
    spatial[centre_h + 1 :] = 0  # every row below the centre
    return np.broadcast_to(spatial, (out_channels, in_channels, kernel_h, kernel_w)).copy()


def _same_param(w: np.ndarray, conv_param: Mapping | None) -> Mapping:
    if w.ndim != 4:
        raise ValueError(f"w must be (F, C, HH, WW), got shape {w.shape}")
    _kernel_shape(w.shape[2:])
    if conv_param is not None:
        return conv_param
    if w.shape[2] != w.shape[3]:
        raise ValueError(
            f"one pad keeps the size only for a square kernel; w {w.shape} needs its own conv_param"
        )
    return {"stride": 1, "pad": w.shape[2] // 2}


def _broadcast_mask(mask: np.ndarray, w: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    try:
        return np.broadcast_to(mask, w.shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the weights' shape {w.shape}"
        ) from None


def masked_conv_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray,
    conv_param: Mapping | None = None,
) -> tuple[np.ndarray, Cache]:
    """Convolution with masked filters: conv(x, w * mask) + b.

    Inputs:
    - x: input (N, C, H, W).
    - w: filters (F, C, HH, WW), HH and WW odd.
    - b: biases (F,).
    - mask: (F, C, HH, WW) or broadcastable to it, e.g. pixelcnn_mask(HH, "A", C, F).
    - conv_param: {"stride", "pad"}; None gives stride 1 and pad HH // 2 (same size).
    Returns (out, cache): out (N, F, H', W'), cache for masked_conv_backward.
    """
    w = np.asarray(w)
    conv_param = _same_param(w, conv_param)
    mask = _broadcast_mask(mask, w)
    out, conv_cache = conv_forward_im2col(x, w * mask, b, conv_param)
    return out, (conv_cache, mask)


def masked_conv_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of masked_conv_forward.

    Inputs:
    - dout: upstream gradient (N, F, H', W').
    - cache: from masked_conv_forward.
    Returns (dx, dw, db) of shapes (N, C, H, W), (F, C, HH, WW), (F,); dw is 0 wherever the
    mask is 0 (the gradient of w * mask with respect to w is the mask).
    """
    conv_cache, mask = cache
    dx, dw_masked, db = conv_backward_im2col(dout, conv_cache)
    return dx, dw_masked * mask, db


__all__ = ["MASK_TYPES", "pixelcnn_mask", "masked_conv_backward", "masked_conv_forward"]
