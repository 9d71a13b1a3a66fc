"""Semantic segmentation layers in numpy: per-pixel cross-entropy and the upsampling layers
of a fully convolutional network (11_segmentation has the student write these).

Feature maps are x (N, C, H, W); scores are (N, C, H, W) with one score per class C and
pixel; labels y are (N, H, W) integers. Upsampling by an integer factor s (or a pair
(sH, sW)) maps (N, C, H, W) to (N, C, sH H, sW W). Forwards return (out, cache) and
backwards take (dout, cache), as every numpy layer; the loss returns (loss, dscores) at once
like core.softmax_loss.

- pixel_softmax_loss: softmax over the class axis C at every pixel, cross-entropy
  -log p_y weighted by class_weights[y], ignored pixels left out; averaged as torch's
  F.cross_entropy(weight=..., ignore_index=..., reduction="mean").
- upsample_nearest_forward / _backward: each pixel copied into an sH x sW block
  (F.interpolate(mode="nearest")).
- upsample_bilinear_forward / _backward: linear interpolation along each axis
  (F.interpolate(mode="bilinear", align_corners=...)); the layer is out = Ay x Ax^T with
  interpolation matrices Ay (sH H, H) and Ax (sW W, W), so its backward is Ay^T dout Ax.
- max_pool_with_indices: max pooling that also returns where each maximum was, as
  F.max_pool2d(return_indices=True); max_unpool_forward / _backward put values back at
  those places (zeros elsewhere), as F.max_unpool2d (SegNet's decoder).
- conv_transpose_forward / _backward: the transposed ("fractionally strided") convolution
  of F.conv_transpose2d, as a scatter-add of every input pixel times the kernel.
- bilinear_kernel: the weights that make a transposed convolution a bilinear upsampler
  (FCN's initialization).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from cs231n_lib.layers.conv import Cache, _int_param, max_pool_forward

# --- per-pixel cross-entropy ---------------------------------------------------------------


def pixel_softmax_loss(
    scores: np.ndarray,
    y: np.ndarray,
    class_weights: np.ndarray | None = None,
    ignore_index: int | None = None,
) -> tuple[float, np.ndarray]:
    """Weighted mean per-pixel cross-entropy of softmax scores, and its gradient.

    At every pixel (n, i, j) the probabilities are p = softmax(scores[n, :, i, j]) over the
    C classes and the pixel's loss is -log p[y[n, i, j]], weighted by w = class_weights[y]
    (1 without class_weights). Pixels whose label is ignore_index count nowhere: neither in
    the sum nor in the mean nor in the gradient. As torch's F.cross_entropy with
    reduction="mean", the mean divides by the summed weights of the counted pixels:

        loss = sum_counted w_y (-log p_y) / sum_counted w_y

    (the plain mean over counted pixels without class_weights). NOTE: when no pixel counts
    (every label ignored, or their weights sum to 0) the loss is nan, as torch's, and the
    gradient is 0 (torch gives nan for the zero-weight case).

    Inputs:
    - scores: (N, C, H, W) class scores.
    - y: (N, H, W) integer labels in 0..C-1, or ignore_index.
    - class_weights: (C,) non-negative weights, or None.
    - ignore_index: a label that is not a class (e.g. 255 for "void"), or None.
    Returns (loss, dscores): a float and the gradient with respect to scores, (N, C, H, W).
    """
    scores, y = np.asarray(scores, dtype=np.float64), np.asarray(y)
    if scores.ndim != 4 or y.shape != (scores.shape[0], *scores.shape[2:]):
        raise ValueError(
            f"expected scores (N, C, H, W) and labels y (N, H, W), got {scores.shape} and {y.shape}"
        )
    if not (y.size == 0 or np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    num_classes = scores.shape[1]
    counted = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    labels = np.where(counted, y, 0)  # (N, H, W), ignored pixels point at class 0 (unused)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = np.unique(y[counted & ((y < 0) | (y >= num_classes))])
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} (or be ignore_index={ignore_index!r}), "
            f"got {bad[:5]}"
        )
    if class_weights is None:
        weights = counted.astype(np.float64)
    else:
        class_weights = np.asarray(class_weights, dtype=np.float64)
        if class_weights.shape != (num_classes,) or np.any(class_weights < 0):
            raise ValueError(
                f"class_weights must be ({num_classes},) non-negative, got {class_weights}"
            )
        weights = np.where(counted, class_weights[labels], 0.0)  # (N, H, W)
    total = weights.sum()

    # Softmax over the CLASS axis (1), shifted by each pixel's largest score for stability.
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C, H, W)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p_y = np.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]  # (N, H, W)
    if total == 0:
        return float("nan"), np.zeros_like(scores)
    loss = -(weights * log_p_y).sum() / total
    # dL/ds_c at a pixel = w_y (p_c - 1[c == y]) / total.
    onehot = labels[:, None] == np.arange(num_classes)[None, :, None, None]  # (N, C, H, W)
    dscores = (np.exp(log_probs) - onehot) * (weights / total)[:, None]
    return float(loss), dscores


# --- nearest and bilinear upsampling -------------------------------------------------------


def _scale_pair(scale) -> tuple[int, int]:
    pair = (scale, scale) if np.ndim(scale) == 0 else tuple(scale)
    if len(pair) != 2 or any(
        isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in pair
    ):
        raise ValueError(f"scale must be a positive int or a pair of them, got {scale!r}")
    return int(pair[0]), int(pair[1])


def _feature_map(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be a feature map (N, C, H, W), got shape {x.shape}")
    return x


def upsample_nearest_forward(x: np.ndarray, scale) -> tuple[np.ndarray, Cache]:
    """Nearest-neighbour upsampling: out[n, c, i, j] = x[n, c, i // sH, j // sW].

    Inputs: x (N, C, H, W); scale, a positive int s or a pair (sH, sW).
    Returns (out, cache): out (N, C, sH H, sW W).
    """
    x = _feature_map(x)
    sh, sw = _scale_pair(scale)
    return x.repeat(sh, axis=2).repeat(sw, axis=3), (x.shape, sh, sw)


def upsample_nearest_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward of upsample_nearest_forward: each input pixel gets the sum of the gradients
    of the sH x sW block it was copied into. Returns dx (N, C, H, W)."""
    (N, C, H, W), sh, sw = cache
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != (N, C, sh * H, sw * W):
        raise ValueError(f"dout must be {(N, C, sh * H, sw * W)}, got {dout.shape}")
    return dout.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5))


def _linear_matrix(size: int, scale: int, align_corners: bool) -> np.ndarray:
    """(scale size, size): row o holds the linear-interpolation weights of output o.

    align_corners=False (pixel centres at i + 0.5 on both grids): the source coordinate of
    output o is (o + 0.5) / scale - 0.5, clamped at 0 (and at size - 1 through the
    neighbours); align_corners=True (the corner pixels' centres coincide):
    o (size - 1) / (scale size - 1).
    """
    out_size = scale * size
    o = np.arange(out_size)
    if align_corners:
        src = o * ((size - 1) / (out_size - 1)) if out_size > 1 else np.zeros(out_size)
    else:
        src = np.maximum((o + 0.5) / scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    frac = src - low
    matrix = np.zeros((out_size, size))
    np.add.at(matrix, (o, low), 1.0 - frac)
    np.add.at(matrix, (o, high), frac)
    return matrix


def upsample_bilinear_forward(
    x: np.ndarray, scale, align_corners: bool = False
) -> tuple[np.ndarray, Cache]:
    """Bilinear upsampling, as F.interpolate(x, scale_factor=scale, mode="bilinear",
    align_corners=align_corners).

    Each output pixel is the bilinear interpolation of the four input pixels around its
    source position: with align_corners=False (torch's default) output pixel o along an
    axis samples the input at (o + 0.5) / s - 0.5, and an output whose position falls
    outside [0, H - 1] copies the edge pixel (clamped); with align_corners=True at
    o (H - 1) / (s H - 1), so the corner pixels of input and output coincide.
    Interpolation is separable and linear: out[n, c] = Ay x[n, c] Ax^T.

    Inputs: x (N, C, H, W); scale, a positive int s or a pair (sH, sW); align_corners.
    Returns (out, cache): out (N, C, sH H, sW W).
    """
    x = _feature_map(x)
    sh, sw = _scale_pair(scale)
    Ay = _linear_matrix(x.shape[2], sh, align_corners)  # (sH H, H)
    Ax = _linear_matrix(x.shape[3], sw, align_corners)  # (sW W, W)
    return Ay @ x @ Ax.T, (x.shape, Ay, Ax)


def upsample_bilinear_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward of upsample_bilinear_forward: dx[n, c] = Ay^T dout[n, c] Ax.
    Returns dx (N, C, H, W)."""
    (N, C, _, _), Ay, Ax = cache
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != (N, C, len(Ay), len(Ax)):
        raise ValueError(f"dout must be {(N, C, len(Ay), len(Ax))}, got {dout.shape}")
    return Ay.T @ dout @ Ax


# --- max pooling with indices, max unpooling -----------------------------------------------


def max_pool_with_indices(x: np.ndarray, pool_param: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling (conv.max_pool_forward) that also says where each maximum was.

    As torch, windows that would hang over the edge are dropped: H' = floor((H -
    pool_height) / stride) + 1 (W' alike), so e.g. 5 rows pooled 2 by 2 give 2 and the last
    row is never looked at.
    Inputs: x (N, C, H, W); pool_param {"pool_height", "pool_width", "stride"}.
    Returns (out, indices): out (N, C, H', W') the maxima; indices (N, C, H', W') int64, the
    flat position h W + w of each maximum in its (H, W) plane (the first one on a tie), as
    F.max_pool2d(..., return_indices=True) gives them. For windows that do not overlap
    (stride >= pool size) the pooling's backward is max_unpool_forward(dout, indices,
    pool_param, output_size=(H, W)).
    """
    x = _feature_map(x)
    pool_h = _int_param(pool_param, "pool_height", None, 1)
    pool_w = _int_param(pool_param, "pool_width", None, 1)
    stride = _int_param(pool_param, "stride", None, 1)
    H, W = x.shape[2:]
    if pool_h > H or pool_w > W:
        raise ValueError(f"a {pool_h} x {pool_w} window does not fit in {H} x {W}")
    out_h, out_w = (H - pool_h) // stride + 1, (W - pool_w) // stride + 1
    covered = x[:, :, : (out_h - 1) * stride + pool_h, : (out_w - 1) * stride + pool_w]
    out, (_, _, argmax, _) = max_pool_forward(covered, pool_param)  # argmax within a window
    rows = np.arange(out_h)[:, None] * stride + argmax // pool_w  # (N, C, H', W')
    cols = np.arange(out_w)[None, :] * stride + argmax % pool_w
    return out, (rows * W + cols).astype(np.int64)


def max_unpool_forward(
    x: np.ndarray, indices: np.ndarray, pool_param: Mapping, output_size=None
) -> tuple[np.ndarray, Cache]:
    """Max unpooling, as F.max_unpool2d: every value goes back to where its max came from.

    out[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], and 0 everywhere else.

    Inputs:
    - x: (N, C, H', W') values, e.g. a decoder's features at the pooled resolution.
    - indices: (N, C, H', W') int flat positions from max_pool_with_indices.
    - pool_param: the pooling's {"pool_height", "pool_width", "stride"}: the output is
      (H' - 1) stride + pool_height rows (columns alike) unless output_size says otherwise.
    - output_size: (H, W) of the map that was pooled, or None; needed when the pooling
      dropped rows or columns (e.g. H = 5 pooled by 2).
    NOTE: two windows that pick the same pixel (overlapping windows) would write to one
    place, which torch leaves undefined; such indices are refused.
    Returns (out, cache): out (N, C, H, W).
    """
    x = _feature_map(x)
    indices = np.asarray(indices)
    if indices.shape != x.shape or not (indices.size == 0 or indices.dtype.kind in "iu"):
        raise ValueError(f"indices must be integers of x's shape {x.shape}, got {indices.shape}")
    N, C, out_h, out_w = x.shape
    if output_size is None:
        pool_h = _int_param(pool_param, "pool_height", None, 1)
        pool_w = _int_param(pool_param, "pool_width", None, 1)
        stride = _int_param(pool_param, "stride", None, 1)
        H, W = (out_h - 1) * stride + pool_h, (out_w - 1) * stride + pool_w
    else:
        H, W = (int(v) for v in output_size)
    flat = indices.reshape(N * C, out_h * out_w)
    if flat.size and (flat.min() < 0 or flat.max() >= H * W):
        raise ValueError(
            f"indices must lie in 0..{H * W - 1} for an output of {H} x {W}, got "
            f"{flat.min()}..{flat.max()}"
        )
    sorted_flat = np.sort(flat, axis=1)
    if np.any(sorted_flat[:, 1:] == sorted_flat[:, :-1]):
        raise ValueError("indices repeat a position within a plane (overlapping windows?)")
    out = np.zeros((N * C, H * W))
    np.put_along_axis(out, flat, x.reshape(N * C, -1), axis=1)
    return out.reshape(N, C, H, W), (x.shape, flat)


def max_unpool_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward of max_unpool_forward: dx[n, c, i, j] = dout[n, c].flat[indices[n, c, i, j]]
    (the other output pixels are constants 0). Returns dx (N, C, H', W')."""
    x_shape, flat = cache
    dout = np.asarray(dout, dtype=np.float64)
    if dout.ndim != 4 or dout.shape[:2] != x_shape[:2]:
        raise ValueError(f"dout must be (N, C, H, W) with N, C = {x_shape[:2]}, got {dout.shape}")
    dx = np.take_along_axis(dout.reshape(len(flat), -1), flat, axis=1)
    return dx.reshape(x_shape)


# --- transposed convolution ----------------------------------------------------------------


def _conv_transpose_sizes(x, w, b, conv_param: Mapping) -> tuple[int, int, int, int, int]:
    if x.ndim != 4 or w.ndim != 4 or w.shape[0] != x.shape[1] or b.shape != (w.shape[1],):
        raise ValueError(
            f"expected x (N, C, H, W), w (C, F, HH, WW) (in_channels first, as torch's "
            f"conv_transpose2d), b (F,); got x {x.shape}, w {w.shape}, b {b.shape}"
        )
    stride = _int_param(conv_param, "stride", 1, 1)
    pad = _int_param(conv_param, "pad", 0, 0)
    output_padding = _int_param(conv_param, "output_padding", 0, 0)
    if output_padding >= stride:
        raise ValueError(f"output_padding must be < stride = {stride}, got {output_padding}")
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    out_h = (H - 1) * stride - 2 * pad + HH + output_padding
    out_w = (W - 1) * stride - 2 * pad + WW + output_padding
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"(H - 1) stride - 2 pad + HH + output_padding = {out_h} x {out_w}: the padding "
            f"{pad} crops away the whole output"
        )
    return stride, pad, output_padding, out_h, out_w


def conv_transpose_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping
) -> tuple[np.ndarray, Cache]:
    """Transposed convolution, as F.conv_transpose2d(x, w, b, stride, pad, output_padding).

    Every input pixel (i, j) adds its values times the kernel into the output, at the
    window that starts at (i stride, j stride); then pad rows and columns are cropped from
    each side (output_padding adds rows and columns at the bottom and right):

        full[n, f, i S + a, j S + b] += sum_c x[n, c, i, j] w[c, f, a, b]
        out = full[:, :, pad : pad + H', pad : pad + W'] + b[f]

    It is the gradient (adjoint) of a convolution with the same weights: a convolution
    with w (F=C_in, C=C_out, HH, WW), stride S and pad P maps a C_out-channel map of size
    H' to one of size H, and this layer maps back.

    Inputs:
    - x: (N, C, H, W); w: (C, F, HH, WW), in_channels first as torch's weight; b: (F,).
    - conv_param: {"stride" (1), "pad" (0), "output_padding" (0, must be < stride)}.
    Returns (out, cache): out (N, F, H', W'), H' = (H - 1) S - 2 P + HH + output_padding.
    """
    x, w, b = (np.asarray(v, dtype=np.float64) for v in (x, w, b))
    stride, pad, _, out_h, out_w = _conv_transpose_sizes(x, w, b, conv_param)
    N, C, H, W = x.shape
    _, F, HH, WW = w.shape
    # Big enough for every window and for the output after cropping.
    full = np.zeros(
        (N, F, max((H - 1) * stride + HH, pad + out_h), max((W - 1) * stride + WW, pad + out_w))
    )
    for a in range(HH):
        for c in range(WW):
            # Kernel tap (a, c) sends input pixel (i, j) to (i S + a, j S + c).
            rows = slice(a, a + stride * (H - 1) + 1, stride)
            cols = slice(c, c + stride * (W - 1) + 1, stride)
            full[:, :, rows, cols] += np.einsum("nchw,cf->nfhw", x, w[:, :, a, c])
    out = full[:, :, pad : pad + out_h, pad : pad + out_w] + b[None, :, None, None]
    return out, (x, w, conv_param, full.shape)


def conv_transpose_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of conv_transpose_forward: the gradient of each scatter-add is a gather.

    Inputs: dout (N, F, H', W'); cache from the forward.
    Returns (dx (N, C, H, W), dw (C, F, HH, WW), db (F,)).
    """
    x, w, conv_param, full_shape = cache
    stride, pad, _, out_h, out_w = _conv_transpose_sizes(x, w, w[0, :, 0, 0], conv_param)
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != (x.shape[0], w.shape[1], out_h, out_w):
        raise ValueError(f"dout must be {(x.shape[0], w.shape[1], out_h, out_w)}, got {dout.shape}")
    N, C, H, W = x.shape
    _, F, HH, WW = w.shape
    dfull = np.zeros(full_shape)
    dfull[:, :, pad : pad + out_h, pad : pad + out_w] = dout  # the cropped border had no effect
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for a in range(HH):
        for c in range(WW):
            rows = slice(a, a + stride * (H - 1) + 1, stride)
            cols = slice(c, c + stride * (W - 1) + 1, stride)
            window = dfull[:, :, rows, cols]  # (N, F, H, W)
            dx += np.einsum("nfhw,cf->nchw", window, w[:, :, a, c])
            dw[:, :, a, c] = np.einsum("nchw,nfhw->cf", x, window)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def bilinear_kernel(channels: int, kernel_size: int) -> np.ndarray:
    """Weights (C, C, k, k) that make conv_transpose_forward a bilinear upsampler (FCN).

    Each channel maps to itself only (w[c, c'] = 0 for c != c') through the same tent
    filter: with factor = (k + 1) // 2 and centre = factor - 1 (k odd) or factor - 0.5 (k
    even), w[c, c, a, b] = (1 - |a - centre| / factor) (1 - |b - centre| / factor).

    To upsample by an integer s use k = 2 s - s % 2, stride s and pad = ceil((s - 1) / 2):
    the output (N, C, s H, s W) then equals upsample_bilinear_forward(x, s) (align_corners
    =False) except on the outer `pad` rows and columns. There the interpolation would need
    input pixels outside the image: F.interpolate clamps to the edge pixel, the transposed
    convolution sees zeros (so an all-ones input gives values < 1 on that border).

    Inputs: channels C >= 1; kernel_size k >= 1. Returns w (C, C, k, k) float64.
    """
    for name, value in (("channels", channels), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    tent = 1.0 - np.abs(np.arange(kernel_size) - centre) / factor  # (k,)
    w = np.zeros((channels, channels, kernel_size, kernel_size))
    w[np.arange(channels), np.arange(channels)] = np.outer(tent, tent)
    return w


def bilinear_upsampling_param(scale: int) -> tuple[int, dict]:
    """(kernel_size, conv_param) of a transposed convolution that upsamples by `scale` with
    bilinear_kernel's weights: k = 2 s - s % 2, {"stride": s, "pad": ceil((s - 1) / 2)}."""
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    return 2 * scale - scale % 2, {"stride": int(scale), "pad": math.ceil((scale - 1) / 2)}
