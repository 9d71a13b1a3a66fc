"""Segmentation layers in torch: the ground truth for the numpy layers of 11.

Conventions as in cs231n_lib.layers.segmentation (scores and feature maps (N, C, H, W),
labels (N, H, W), integer upsampling factors s or (sH, sW), conv_transpose weights
(C_in, C_out, HH, WW)), each computed here by torch's own functional, gradients by autograd:

- pixel_softmax_loss(scores, y, class_weights=None, ignore_index=None) -> (loss, dscores)
  by F.cross_entropy(weight=..., ignore_index=..., reduction="mean").
- upsample_nearest_forward(x, scale), upsample_bilinear_forward(x, scale,
  align_corners=False) by F.interpolate; the same names ending in _backward take
  (dout, x, scale[, align_corners]) and return dx.
- max_pool_with_indices(x, pool_param) -> (out, indices) by F.max_pool2d(return_indices=
  True); max_unpool_forward(x, indices, pool_param, output_size=None) by F.max_unpool2d,
  max_unpool_backward(dout, x, indices, pool_param, output_size=None) -> dx.
- conv_transpose_forward(x, w, b, conv_param) by F.conv_transpose2d (conv_param
  {"stride", "pad", "output_padding"}); conv_transpose_backward(dout, x, w, b, conv_param)
  -> (dx, dw, db).

numpy in, numpy out (see _tensors); labels and indices are constants (no gradient).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, Converter, numpy_io, require_shape, vjp

_TORCH_DEFAULT_IGNORE = -100  # F.cross_entropy's ignore_index when none is asked for


def _cross_entropy(scores, y, class_weights=None, ignore_index=None):
    require_shape("scores", scores, 4)
    ignore = _TORCH_DEFAULT_IGNORE if ignore_index is None else int(ignore_index)
    return F.cross_entropy(scores, y, weight=class_weights, ignore_index=ignore)


def pixel_softmax_loss(
    scores: Array, y: Array, class_weights: Array | None = None, ignore_index: int | None = None
) -> tuple:
    """Weighted mean per-pixel cross-entropy (loss, dscores) of scores (N, C, H, W) against
    labels y (N, H, W): sum of w_y (-log p_y) over counted pixels / sum of their w_y."""
    io = Converter([scores, y, class_weights])
    scores, y = io.tensor(scores), io.tensor(y)
    weights = None if class_weights is None else io.tensor(class_weights).to(scores.dtype)
    kwargs = {"y": y, "class_weights": weights, "ignore_index": ignore_index}
    loss = _cross_entropy(scores.detach(), **kwargs)
    return io.result((loss, vjp(_cross_entropy, (scores,), None, **kwargs)[0]))


def _scale_factor(scale) -> tuple[float, float]:
    pair = (scale, scale) if isinstance(scale, int) else tuple(scale)
    return float(pair[0]), float(pair[1])


def _nearest(x, scale):
    require_shape("x", x, 4)
    return F.interpolate(x, scale_factor=_scale_factor(scale), mode="nearest")


def _bilinear(x, scale, align_corners=False):
    require_shape("x", x, 4)
    return F.interpolate(
        x, scale_factor=_scale_factor(scale), mode="bilinear", align_corners=align_corners
    )


@numpy_io
def upsample_nearest_forward(x: Array, scale) -> Array:
    """(N, C, sH H, sW W): F.interpolate(mode="nearest")."""
    return _nearest(x, scale)


def upsample_nearest_backward(dout: Array, x: Array, scale) -> Array:
    """dx (N, C, H, W) of upsample_nearest_forward for the upstream gradient dout."""
    return vjp(_nearest, (x,), dout, scale=scale)[0]


@numpy_io
def upsample_bilinear_forward(x: Array, scale, align_corners: bool = False) -> Array:
    """(N, C, sH H, sW W): F.interpolate(mode="bilinear", align_corners=align_corners)."""
    return _bilinear(x, scale, align_corners)


def upsample_bilinear_backward(dout: Array, x: Array, scale, align_corners: bool = False):
    """dx (N, C, H, W) of upsample_bilinear_forward for the upstream gradient dout."""
    return vjp(_bilinear, (x,), dout, scale=scale, align_corners=align_corners)[0]


def _pool_args(pool_param: Mapping) -> dict:
    return {
        "kernel_size": (int(pool_param["pool_height"]), int(pool_param["pool_width"])),
        "stride": int(pool_param["stride"]),
    }


@numpy_io
def max_pool_with_indices(x: Array, pool_param: Mapping) -> tuple:
    """(out, indices) (N, C, H', W'): F.max_pool2d(return_indices=True); indices are flat
    positions h W + w in each (H, W) plane."""
    require_shape("x", x, 4)
    return F.max_pool2d(x, **_pool_args(pool_param), return_indices=True)


def _unpool(x, indices, pool_param, output_size=None):
    require_shape("x", x, 4)
    size = None if output_size is None else tuple(int(v) for v in output_size)
    return F.max_unpool2d(x, indices, **_pool_args(pool_param), output_size=size)


@numpy_io
def max_unpool_forward(x: Array, indices: Array, pool_param: Mapping, output_size=None) -> Array:
    """(N, C, H, W): F.max_unpool2d, x's values at `indices`, zeros elsewhere."""
    return _unpool(x, indices, pool_param, output_size)


def max_unpool_backward(
    dout: Array, x: Array, indices: Array, pool_param: Mapping, output_size=None
) -> Array:
    """dx (N, C, H', W') of max_unpool_forward for the upstream gradient dout (N, C, H, W)."""
    return vjp(
        _unpool, (x,), dout, indices=indices, pool_param=pool_param, output_size=output_size
    )[0]


def _conv_transpose(x, w, b, conv_param):
    require_shape("x", x, 4)
    return F.conv_transpose2d(
        x,
        w,
        b,
        stride=int(conv_param.get("stride", 1)),
        padding=int(conv_param.get("pad", 0)),
        output_padding=int(conv_param.get("output_padding", 0)),
    )


@numpy_io
def conv_transpose_forward(x: Array, w: Array, b: Array, conv_param: Mapping) -> Array:
    """(N, F, H', W'): F.conv_transpose2d with w (C, F, HH, WW), b (F,)."""
    return _conv_transpose(x, w, b, conv_param)


def conv_transpose_backward(dout: Array, x: Array, w: Array, b: Array, conv_param: Mapping):
    """(dx, dw, db) of conv_transpose_forward for the upstream gradient dout (N, F, H', W')."""
    return vjp(lambda x, w, b: _conv_transpose(x, w, b, conv_param), (x, w, b), dout)
