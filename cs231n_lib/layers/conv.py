"""Convolution and pooling layers in numpy: a direct version and a fast im2col version.

A conv layer slides F filters over an input of N images with C channels and computes,
like every deep-learning library, a cross-correlation (the filter is not flipped):

    out[n, f, i, j] = b[f] + sum_{c, di, dj} x_pad[n, c, i*S + di, j*S + dj] * w[f, c, di, dj]

where x_pad is x with P zeros added on each side of both spatial axes (never on N or C).
The output has H' = (H - HH + 2P) / S + 1 rows and W' = (W - WW + 2P) / S + 1 columns;
a size that is not a whole number raises ValueError instead of silently cutting the input.

Parameter dicts follow the course's conventions: conv_param = {"stride", "pad"},
pool_param = {"pool_height", "pool_width", "stride"}. Shapes: x (N, C, H, W),
w (F, C, HH, WW), b (F,), out (N, F, H', W'). Forward returns (out, cache), backward takes
(dout, cache). 06_cnn has the student write these; later notebooks import the fast ones:

- conv_forward_naive / conv_backward_naive: loops over output positions.
- im2col / col2im, conv_forward_im2col / conv_backward_im2col: one matrix product.
- max_pool_forward / max_pool_backward, avg_pool_forward / avg_pool_backward: vectorized
  over the windows (a loop over the pool_height * pool_width offsets only).
- conv_relu_forward / conv_relu_backward, conv_relu_pool_forward / conv_relu_pool_backward:
  the sandwich layers of a small convnet, built on the fast layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cs231n_lib.layers.core import relu_backward, relu_forward

Cache = Any  # what a forward pass hands to its backward pass; opaque to callers


def _int_param(params: Mapping, name: str, default: int | None, minimum: int) -> int:
    value = params.get(name, default)
    if value is None:
        raise ValueError(f"missing {name!r} in {dict(params)}")
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def output_size(size: int, kernel: int, pad: int, stride: int) -> int:
    """Positions of a kernel on one axis: (size - kernel + 2 pad) / stride + 1.

    Raises ValueError when the kernel does not fit or the division is not exact (then the
    last kernel position would hang over the padded input).
    """
    span = size - kernel + 2 * pad
    if span < 0:
        raise ValueError(
            f"kernel of size {kernel} is larger than the padded input {size} + 2*{pad}"
        )
    if span % stride != 0:
        raise ValueError(
            f"(W - F + 2P) / S + 1 = ({size} - {kernel} + 2*{pad}) / {stride} + 1 = "
            f"{span / stride + 1:g} is not an integer; choose another stride or padding"
        )
    return span // stride + 1


def _conv_sizes(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping) -> tuple:
    if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(
            f"expected x (N, C, H, W), w (F, C, HH, WW), b (F,) with the same C; got "
            f"x {x.shape}, w {w.shape}, b {b.shape}"
        )
    stride = _int_param(conv_param, "stride", 1, 1)
    pad = _int_param(conv_param, "pad", 0, 0)
    out_h = output_size(x.shape[2], w.shape[2], pad, stride)
    out_w = output_size(x.shape[3], w.shape[3], pad, stride)
    return stride, pad, out_h, out_w


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    # NOTE: zeros go on the two spatial axes only; padding N or C would invent images/channels.
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping
) -> tuple[np.ndarray, Cache]:
    """Conv layer (cross-correlation) by loops over images, filters and output positions.

    Inputs:
    - x: input (N, C, H, W).
    - w: filters (F, C, HH, WW).
    - b: biases (F,).
    - conv_param: {"stride": S (default 1), "pad": P (default 0)}.
    Returns (out, cache): out (N, F, H', W'), cache = (x, w, b, conv_param).
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    stride, pad, out_h, out_w = _conv_sizes(x, w, b, conv_param)
    num_filters, _, kernel_h, kernel_w = w.shape
    x_pad = _pad(x, pad)
    out = np.zeros((x.shape[0], num_filters, out_h, out_w), dtype=np.result_type(x, w, b))
    for n in range(x.shape[0]):
        for f in range(num_filters):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = x_pad[n, :, top : top + kernel_h, left : left + kernel_w]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `conv_forward_naive`.

    Inputs:
    - dout: upstream gradient (N, F, H', W').
    - cache: (x, w, b, conv_param) from the forward pass.
    Returns (dx, dw, db) of shapes (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, b, conv_param = cache
    stride, pad, out_h, out_w = _conv_sizes(x, w, b, conv_param)
    _, _, kernel_h, kernel_w = w.shape
    x_pad = _pad(x, pad)
    dx_pad = np.zeros_like(x_pad, dtype=np.result_type(x, dout))
    dw = np.zeros_like(w, dtype=np.result_type(w, dout))
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    rows, cols = slice(top, top + kernel_h), slice(left, left + kernel_w)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def im2col(x: np.ndarray, kernel_h: int, kernel_w: int, stride: int, pad: int) -> np.ndarray:
    """Every receptive field of x as one row of a matrix.

    Inputs:
    - x: input (N, C, H, W).
    - kernel_h, kernel_w: HH, WW, the window size.
    - stride, pad: as in conv_param.
    Returns cols of shape (N * H' * W', C * HH * WW): row (n * H' + i) * W' + j holds the
    window of image n at output position (i, j), flattened in the order (c, di, dj), which
    is the order of w.reshape(F, -1).

    The matrix is the transpose (a view, no copy) of a C-contiguous (C HH WW, N H' W')
    array: built that way, each kernel offset's strided slice is copied once, straight to
    its final place, and `cols.T` is what the matrix products of the conv layer read.
    """
    num, channels, height, width = x.shape
    out_h = output_size(height, kernel_h, pad, stride)
    out_w = output_size(width, kernel_w, pad, stride)
    # Channels first, (C, N, H + 2P, W + 2P), so that each copy below is C blocks of N H' W'.
    x_pad = np.zeros((channels, num, height + 2 * pad, width + 2 * pad), dtype=x.dtype)
    x_pad[:, :, pad : pad + height, pad : pad + width] = x.transpose(1, 0, 2, 3)
    cols_t = np.empty((channels, kernel_h, kernel_w, num, out_h, out_w), dtype=x.dtype)
    # One strided slice per kernel offset: a loop of HH * WW steps, not N * H' * W'.
    for di in range(kernel_h):
        for dj in range(kernel_w):
            cols_t[:, di, dj] = x_pad[
                :, :, di : di + stride * out_h : stride, dj : dj + stride * out_w : stride
            ]
    return cols_t.reshape(channels * kernel_h * kernel_w, num * out_h * out_w).T


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_h: int,
    kernel_w: int,
    stride: int,
    pad: int,
) -> np.ndarray:
    """The adjoint of `im2col`: adds every row back onto the window it came from.

    Inputs:
    - cols: (N * H' * W', C * HH * WW), laid out as im2col returns it (any memory order;
      the transpose of a C-contiguous array, as conv_backward_im2col passes, is read
      without a copy).
    - x_shape: (N, C, H, W) of the image im2col was applied to.
    - kernel_h, kernel_w, stride, pad: as given to im2col.
    Returns an array of shape x_shape; where windows overlap, their values are summed (so
    col2im(im2col(x)) is not x, but col2im is the backward pass of im2col).
    """
    num, channels, height, width = x_shape
    out_h = output_size(height, kernel_h, pad, stride)
    out_w = output_size(width, kernel_w, pad, stride)
    expected = (num * out_h * out_w, channels * kernel_h * kernel_w)
    if cols.shape != expected:
        raise ValueError(f"cols must have shape {expected} for x {x_shape}, got {cols.shape}")
    cols_t = cols.T.reshape(channels, kernel_h, kernel_w, num, out_h, out_w)
    x_pad = np.zeros((channels, num, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    for di in range(kernel_h):
        for dj in range(kernel_w):
            x_pad[:, :, di : di + stride * out_h : stride, dj : dj + stride * out_w : stride] += (
                cols_t[:, di, dj]
            )
    # (C, N, H, W) -> (N, C, H, W): a view, as the crop of the padding is.
    return x_pad[:, :, pad : pad + height, pad : pad + width].transpose(1, 0, 2, 3)


def conv_forward_im2col(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping
) -> tuple[np.ndarray, Cache]:
    """Conv layer as one matrix product: im2col(x) @ w.reshape(F, -1).T + b.

    Inputs and out as in `conv_forward_naive`; cache = (x, w, b, conv_param, cols).
    The product is computed transposed, w.reshape(F, -1) @ cols.T, (F, N H' W'): cols.T
    is the contiguous array im2col built, and F blocks of N H' W' reorder cheaply to
    (N, F, H', W').
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    stride, pad, out_h, out_w = _conv_sizes(x, w, b, conv_param)
    num_filters, _, kernel_h, kernel_w = w.shape
    cols = im2col(x, kernel_h, kernel_w, stride, pad)  # (N H' W', C HH WW)
    out = w.reshape(num_filters, -1) @ cols.T  # (F, N H' W')
    out += b[:, None]
    out = out.reshape(num_filters, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x, w, b, conv_param, cols)


def conv_backward_im2col(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `conv_forward_im2col`: two matrix products and a col2im.

    With dout_rows = dout as (N H' W', F): dw = dout_rows.T @ cols, dcols = dout_rows @
    w.reshape(F, -1), dx = col2im(dcols), db = the sum of dout_rows over its rows; computed
    with dout as (F, N H' W') (one copy) so each product reads contiguous memory.
    Returns (dx, dw, db) of shapes (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, _, conv_param, cols = cache
    stride = _int_param(conv_param, "stride", 1, 1)
    pad = _int_param(conv_param, "pad", 0, 0)
    num_filters, _, kernel_h, kernel_w = w.shape
    dout_t = dout.transpose(1, 0, 2, 3).reshape(num_filters, -1)  # (F, N H' W')
    dw = (dout_t @ cols).reshape(w.shape)  # (F, C HH WW) -> (F, C, HH, WW)
    dcols = (w.reshape(num_filters, -1).T @ dout_t).T  # (N H' W', C HH WW), a view
    dx = col2im(dcols, x.shape, kernel_h, kernel_w, stride, pad)
    db = dout_t.sum(axis=1)
    return dx, dw, db


def _pool_sizes(x: np.ndarray, pool_param: Mapping) -> tuple[int, int, int, int, int]:
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    pool_h = _int_param(pool_param, "pool_height", None, 1)
    pool_w = _int_param(pool_param, "pool_width", None, 1)
    stride = _int_param(pool_param, "stride", None, 1)
    out_h = output_size(x.shape[2], pool_h, 0, stride)
    out_w = output_size(x.shape[3], pool_w, 0, stride)
    return pool_h, pool_w, stride, out_h, out_w


def _windows(x: np.ndarray, pool_param: Mapping) -> np.ndarray:
    """All pooling windows: (N, C, pool_height * pool_width, H', W')."""
    pool_h, pool_w, stride, out_h, out_w = _pool_sizes(x, pool_param)
    return np.stack(
        [
            x[:, :, di : di + stride * out_h : stride, dj : dj + stride * out_w : stride]
            for di in range(pool_h)
            for dj in range(pool_w)
        ],
        axis=2,
    )


def _scatter_windows(dwin: np.ndarray, x_shape: tuple, pool_param: Mapping) -> np.ndarray:
    """Adjoint of `_windows`: adds (N, C, PH * PW, H', W') back onto an (N, C, H, W) array."""
    pool_h, pool_w, stride, out_h, out_w = _pool_sizes(np.broadcast_to(0.0, x_shape), pool_param)
    dx = np.zeros(x_shape, dtype=dwin.dtype)
    for k, (di, dj) in enumerate((di, dj) for di in range(pool_h) for dj in range(pool_w)):
        dx[:, :, di : di + stride * out_h : stride, dj : dj + stride * out_w : stride] += dwin[
            :, :, k
        ]
    return dx


def max_pool_forward(x: np.ndarray, pool_param: Mapping) -> tuple[np.ndarray, Cache]:
    """Max pooling: the largest value of each window, per image and channel.

    Inputs:
    - x: input (N, C, H, W).
    - pool_param: {"pool_height", "pool_width", "stride"}; no padding.
    Returns (out, cache): out (N, C, H', W'), H' = (H - pool_height) / stride + 1.
    """
    x = np.asarray(x)
    windows = _windows(x, pool_param)  # (N, C, PH PW, H', W')
    argmax = windows.argmax(axis=2)  # (N, C, H', W'): the first maximum on ties
    out = np.take_along_axis(windows, argmax[:, :, None], axis=2)[:, :, 0]
    return out, (x.shape, pool_param, argmax, windows.shape[2])


def max_pool_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `max_pool_forward`: each window's gradient goes to its maximum only.

    Returns dx (N, C, H, W).
    """
    x_shape, pool_param, argmax, window_size = cache
    onehot = argmax[:, :, None] == np.arange(window_size)[None, None, :, None, None]
    return _scatter_windows(onehot * dout[:, :, None], x_shape, pool_param)


def avg_pool_forward(x: np.ndarray, pool_param: Mapping) -> tuple[np.ndarray, Cache]:
    """Average pooling: the mean of each window; shapes as in `max_pool_forward`."""
    x = np.asarray(x)
    windows = _windows(x, pool_param)
    return windows.mean(axis=2), (x.shape, pool_param, windows.shape[2])


def avg_pool_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `avg_pool_forward`: each window shares its gradient equally.

    Returns dx (N, C, H, W).
    """
    x_shape, pool_param, window_size = cache
    shares = np.repeat(dout[:, :, None] / window_size, window_size, axis=2)
    return _scatter_windows(shares, x_shape, pool_param)


def conv_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping
) -> tuple[np.ndarray, Cache]:
    """A fast conv layer followed by a ReLU; shapes as in `conv_forward_im2col`."""
    a, conv_cache = conv_forward_im2col(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `conv_relu_forward`; returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_im2col(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping, pool_param: Mapping
) -> tuple[np.ndarray, Cache]:
    """conv - ReLU - max pool, the first block of a small convnet.

    Returns (out, cache) with out (N, F, H'', W'') after pooling.
    """
    a, conv_relu_cache = conv_relu_forward(x, w, b, conv_param)
    out, pool_cache = max_pool_forward(a, pool_param)
    return out, (conv_relu_cache, pool_cache)


def conv_relu_pool_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `conv_relu_pool_forward`; returns (dx, dw, db)."""
    conv_relu_cache, pool_cache = cache
    return conv_relu_backward(max_pool_backward(dout, pool_cache), conv_relu_cache)
