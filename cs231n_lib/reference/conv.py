"""Convolution and pooling in torch: the ground truth for the numpy layers of 06.

Parameters follow the course's dicts: conv_param = {"stride", "pad"} (zero padding on
every side), pool_param = {"pool_height", "pool_width", "stride"} (no padding). Output
sizes are floor((H + 2 pad - HH) / stride) + 1, as in torch; the numpy exercises use sizes
that divide exactly. im2col / col2im give torch's unfold / fold in the course's column
layout (rows (n, i, j), columns (c, a, b)). numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, numpy_io, require_shape, vjp

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _param(params: Mapping, name: str, default: int | None = None, minimum: int = 1) -> int:
    value = params.get(name, default)
    if value is None:
        raise ValueError(f"missing {name!r} in {dict(params)}")
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: Mapping) -> torch.Tensor:
    spatial = x.ndim - 2
    if spatial not in _CONV:
        raise ValueError(
            f"x must be (N, C, W), (N, C, H, W) or (N, C, D, H, W), got shape {tuple(x.shape)}"
        )
    if w.ndim != x.ndim or w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w must be (F, C, kernel...) with C = {x.shape[1]} channels of x "
            f"{tuple(x.shape)}, got w {tuple(w.shape)}"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(
            f"b must have shape ({w.shape[0]},) for w {tuple(w.shape)}, got {tuple(b.shape)}"
        )
    stride = _param(conv_param, "stride", 1)
    pad = _param(conv_param, "pad", 0, minimum=0)
    for size, kernel in zip(x.shape[2:], w.shape[2:], strict=True):
        if size + 2 * pad < kernel:
            raise ValueError(
                f"the kernel {tuple(w.shape[2:])} is larger than the padded input "
                f"{tuple(s + 2 * pad for s in x.shape[2:])}"
            )
    return _CONV[spatial](x, w, b, stride=stride, padding=pad)


@numpy_io
def conv_forward(x: Array, w: Array, b: Array, conv_param: Mapping) -> Array:
    """Cross-correlation of x with F filters, as every deep-learning conv layer computes.

    Inputs:
    - x: (N, C, H, W); also (N, C, W) for 1D or (N, C, D, H, W) for 3D.
    - w: filters (F, C, HH, WW) (kernel dims to match x).
    - b: biases (F,).
    - conv_param: {"stride": s (default 1), "pad": p (default 0)}.
    Returns out of shape (N, F, H', W'), H' = floor((H + 2 p - HH) / s) + 1.
    """
    return _conv(x, w, b, conv_param)


def conv_backward(dout: Array, x: Array, w: Array, b: Array, conv_param: Mapping) -> tuple:
    """Gradients (dx, dw, db) of conv_forward for the upstream gradient dout (N, F, H', W')."""
    return vjp(_conv, (x, w, b), dout, conv_param=conv_param)


def _pool_sizes(x: torch.Tensor, pool_param: Mapping) -> tuple[tuple[int, int], int]:
    require_shape("x", x, 4)
    height = _param(pool_param, "pool_height")
    width = _param(pool_param, "pool_width")
    stride = _param(pool_param, "stride")
    if height > x.shape[2] or width > x.shape[3]:
        raise ValueError(
            f"the pooling window {height}x{width} is larger than the input {tuple(x.shape[2:])}"
        )
    return (height, width), stride


def _max_pool(x: torch.Tensor, pool_param: Mapping) -> torch.Tensor:
    window, stride = _pool_sizes(x, pool_param)
    return F.max_pool2d(x, window, stride=stride)


def _avg_pool(x: torch.Tensor, pool_param: Mapping) -> torch.Tensor:
    window, stride = _pool_sizes(x, pool_param)
    return F.avg_pool2d(x, window, stride=stride)


@numpy_io
def max_pool_forward(x: Array, pool_param: Mapping) -> Array:
    """Max over each pool_height x pool_width window, moved by stride, per channel.

    Inputs: x (N, C, H, W); pool_param {"pool_height", "pool_width", "stride"}.
    Returns out (N, C, H', W'), H' = floor((H - pool_height) / stride) + 1.
    """
    return _max_pool(x, pool_param)


def max_pool_backward(dout: Array, x: Array, pool_param: Mapping) -> Array:
    """dx of max pooling: dout routed to the maximum of each window.

    NOTE: where a window has tied maxima, torch routes the gradient to one of them; the
    tests of the numpy layers use random inputs, which have no ties.
    """
    return vjp(_max_pool, (x,), dout, pool_param=pool_param)[0]


@numpy_io
def avg_pool_forward(x: Array, pool_param: Mapping) -> Array:
    """Mean over each window; same shapes as max_pool_forward."""
    return _avg_pool(x, pool_param)


def avg_pool_backward(dout: Array, x: Array, pool_param: Mapping) -> Array:
    """dx of average pooling: dout spread evenly over each window."""
    return vjp(_avg_pool, (x,), dout, pool_param=pool_param)[0]


def _windows(
    x_shape: tuple, kernel_h: int, kernel_w: int, stride: int, pad: int
) -> tuple[int, int, int, int, int, int]:
    """Checked (kernel_h, kernel_w, stride, pad, H', W') for windows of an (N, C, H, W) input."""
    if len(x_shape) != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x_shape)}")
    given = {"kernel_h": kernel_h, "kernel_w": kernel_w, "stride": stride, "pad": pad}
    kernel_h, kernel_w, stride, pad = (
        _param(given, name, minimum=0 if name == "pad" else 1) for name in given
    )
    height, width = int(x_shape[2]) + 2 * pad, int(x_shape[3]) + 2 * pad
    if kernel_h > height or kernel_w > width:
        raise ValueError(
            f"the window {kernel_h}x{kernel_w} is larger than the padded input ({height}, {width})"
        )
    out_h, out_w = (height - kernel_h) // stride + 1, (width - kernel_w) // stride + 1
    return kernel_h, kernel_w, stride, pad, out_h, out_w


@numpy_io
def im2col(x: Array, kernel_h: int, kernel_w: int, stride: int, pad: int) -> Array:
    """Every receptive field of x as one row, in the course's layout (torch's unfold).

    Inputs: x (N, C, H, W); the window kernel_h x kernel_w; stride; zero padding pad.
    Returns cols (N * H' * W', C * kernel_h * kernel_w): row (n * H' + i) * W' + j is the
    padded window of image n at output position (i, j), flattened in the order (c, a, b)
    of w.reshape(F, -1). H' = floor((H + 2 pad - kernel_h) / stride) + 1, W' likewise.
    """
    kernel_h, kernel_w, stride, pad, _, _ = _windows(x.shape, kernel_h, kernel_w, stride, pad)
    cols = F.unfold(x, (kernel_h, kernel_w), padding=pad, stride=stride)  # (N, C HH WW, H' W')
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])  # (N H' W', C HH WW)


@numpy_io
def col2im(
    cols: Array, x_shape: tuple, kernel_h: int, kernel_w: int, stride: int, pad: int
) -> Array:
    """The adjoint of im2col (torch's fold): each row added back onto its window.

    Inputs: cols (N * H' * W', C * kernel_h * kernel_w) laid out as im2col returns it;
    x_shape (N, C, H, W); kernel_h, kernel_w, stride, pad as given to im2col.
    Returns an array of shape x_shape; where windows overlap their values add up, and
    what fell on the padding is dropped.
    """
    kernel_h, kernel_w, stride, pad, out_h, out_w = _windows(
        tuple(x_shape), kernel_h, kernel_w, stride, pad
    )
    num, channels, height, width = (int(v) for v in x_shape)
    expected = (num * out_h * out_w, channels * kernel_h * kernel_w)
    if tuple(cols.shape) != expected:
        raise ValueError(
            f"cols must have shape {expected} for x {tuple(x_shape)}, {kernel_h}x{kernel_w} "
            f"windows, stride {stride}, pad {pad}; got {tuple(cols.shape)}"
        )
    per_image = cols.reshape(num, out_h * out_w, -1).transpose(1, 2)  # (N, C HH WW, H' W')
    return F.fold(per_image, (height, width), (kernel_h, kernel_w), padding=pad, stride=stride)
