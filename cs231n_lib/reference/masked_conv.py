"""Masked (causal) convolution in torch: the ground truth for layers.masked_conv (12).

- pixelcnn_mask(kernel_size, mask_type, in_channels, out_channels) -> (F, C, HH, WW) built
  another way than the numpy layer: a kernel position (a, b) is kept when its raster index
  a * WW + b comes before the centre's (mask "A") or is the centre's (mask "B").
- masked_conv_forward(x, w, b, mask, conv_param=None) by F.conv2d with the weights w * mask;
  masked_conv_backward(dout, x, w, b, mask, conv_param=None) -> (dx, dw, db) by autograd
  through the product, so dw is 0 where the mask is 0.

conv_param None means stride 1 and pad HH // 2 (same size, square kernels), as in the
numpy layer. numpy in, numpy out (see _tensors); the mask is a constant (no gradient).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, numpy_io, require_shape, vjp


def _odd_pair(kernel_size) -> tuple[int, int]:
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(pair) != 2 or any(int(k) != k or k < 1 or k % 2 == 0 for k in pair):
        raise ValueError(f"kernel_size must be odd (one int or a pair), got {kernel_size!r}")
    return int(pair[0]), int(pair[1])


@numpy_io
def pixelcnn_mask(kernel_size, mask_type: str, in_channels: int, out_channels: int) -> Array:
    """The PixelCNN mask (F, C, HH, WW) float64 of 0s and 1s: raster index < centre for "A",
    <= centre for "B"; the same for every channel pair."""
    kernel_h, kernel_w = _odd_pair(kernel_size)
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    rows = torch.arange(kernel_h).view(-1, 1)
    cols = torch.arange(kernel_w).view(1, -1)
    raster = rows * kernel_w + cols  # (HH, WW)
    centre = (kernel_h // 2) * kernel_w + kernel_w // 2
    keep = raster < centre if mask_type == "A" else raster <= centre
    return keep.to(torch.float64).expand(out_channels, in_channels, -1, -1).clone()


def _masked_conv(x, w, b, mask, conv_param: Mapping | None = None) -> torch.Tensor:
    require_shape("x", x, 4)
    require_shape("w", w, 4)
    kernel_h, kernel_w = _odd_pair(tuple(w.shape[2:]))
    if conv_param is None:
        if kernel_h != kernel_w:
            raise ValueError(f"a non-square kernel {tuple(w.shape)} needs its own conv_param")
        conv_param = {"stride": 1, "pad": kernel_h // 2}
    stride, pad = int(conv_param.get("stride", 1)), int(conv_param.get("pad", 0))
    mask = mask.to(w.dtype).expand_as(w)
    return F.conv2d(x, w * mask, b, stride=stride, padding=pad)


@numpy_io
def masked_conv_forward(x: Array, w: Array, b: Array, mask: Array, conv_param=None) -> Array:
    """conv2d(x, w * mask) + b. Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), mask
    broadcastable to w. Returns out (N, F, H', W')."""
    return _masked_conv(x, w, b, mask, conv_param)


def masked_conv_backward(
    dout: Array, x: Array, w: Array, b: Array, mask: Array, conv_param=None
) -> tuple:
    """Gradients (dx, dw, db) of masked_conv_forward for the upstream gradient dout."""
    return vjp(_masked_conv, (x, w, b), dout, mask=mask, conv_param=conv_param)
