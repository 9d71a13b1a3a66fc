"""Boxes in torch: the ground truth for the numpy box operations and RoI layers of 10.

Conventions as in cs231n_lib.layers.boxes (boxes (N, 4) = (x1, y1, x2, y2), area
(x2 - x1) (y2 - y1); RoIs (K, 5) = (batch_index, x1, y1, x2, y2) in image pixels; features
(N, C, H, W)), each written here another way:

- box_iou(boxes1, boxes2) -> (M, N); nms(boxes, scores, iou_threshold) and
  batched_nms(boxes, scores, labels, iou_threshold) -> kept indices by decreasing score
  (ties: lower index first), by brute force: walk the boxes by score and keep one when its
  IoU with every box kept before it (of its label) is <= iou_threshold.
- encode_boxes(boxes, anchors), decode_boxes(deltas, anchors, max_log_scale=None).
- smooth_l1_forward(x, y, beta=1.0) -> the summed loss by F.smooth_l1_loss;
  smooth_l1_backward(dout, x, y, beta=1.0) -> dx by autograd.
- roi_pool_forward(x, rois, output_size, spatial_scale) -> out: each RoI's cells cut out
  (-inf outside the map) and max-pooled by F.adaptive_max_pool2d, whose bins are
  torchvision roi_pool's; roi_pool_backward(dout, x, rois, ...) -> dx by autograd.
- roi_align_forward(x, rois, output_size, spatial_scale, sampling_ratio=2, aligned=True)
  -> out: every sample point gathered from its four neighbours, one RoI at a time;
  roi_align_backward(dout, x, rois, ...) -> dx by autograd.

numpy in, numpy out (see _tensors); RoIs and anchors are constants (no gradient).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, numpy_io, vjp


def _iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    inter_w = torch.minimum(boxes1[:, None, 2], boxes2[None, :, 2]) - torch.maximum(
        boxes1[:, None, 0], boxes2[None, :, 0]
    )
    inter_h = torch.minimum(boxes1[:, None, 3], boxes2[None, :, 3]) - torch.maximum(
        boxes1[:, None, 1], boxes2[None, :, 1]
    )
    inter = inter_w.clamp(min=0) * inter_h.clamp(min=0)  # (M, N)
    union = area1[:, None] + area2[None, :] - inter
    return torch.where(union > 0, inter / union.where(union > 0, 1.0), 0.0)


@numpy_io
def box_iou(boxes1: Array, boxes2: Array) -> Array:
    """IoU (M, N) of boxes1 (M, 4) against boxes2 (N, 4); 0 for disjoint or empty unions."""
    return _iou(boxes1, boxes2)


def _greedy(boxes, scores, labels, iou_threshold: float) -> torch.Tensor:
    order = torch.argsort(scores, descending=True, stable=True).tolist()
    keep: list[int] = []
    for i in order:
        rivals = [j for j in keep if labels is None or labels[j] == labels[i]]
        if not rivals or bool((_iou(boxes[i : i + 1], boxes[rivals]) <= iou_threshold).all()):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


@numpy_io
def nms(boxes: Array, scores: Array, iou_threshold: float) -> Array:
    """Greedy NMS by brute force: kept indices (int64) by decreasing score."""
    return _greedy(boxes, scores, None, iou_threshold)


@numpy_io
def batched_nms(boxes: Array, scores: Array, labels: Array, iou_threshold: float) -> Array:
    """Class-aware greedy NMS by brute force: a box only competes with boxes of its label."""
    return _greedy(boxes, scores, labels.tolist(), iou_threshold)


def _centres(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2, w, h


@numpy_io
def encode_boxes(boxes: Array, anchors: Array) -> Array:
    """(tx, ty, tw, th) (N, 4) of boxes relative to anchors, both (N, 4)."""
    x, y, w, h = _centres(boxes)
    xa, ya, wa, ha = _centres(anchors)
    return torch.stack([(x - xa) / wa, (y - ya) / ha, torch.log(w / wa), torch.log(h / ha)], 1)


@numpy_io
def decode_boxes(deltas: Array, anchors: Array, max_log_scale: float | None = None) -> Array:
    """Boxes (N, 4) from deltas (tx, ty, tw, th) and anchors; tw, th capped at max_log_scale."""
    xa, ya, wa, ha = _centres(anchors)
    tw, th = deltas[:, 2], deltas[:, 3]
    if max_log_scale is not None:
        tw, th = tw.clamp(max=max_log_scale), th.clamp(max=max_log_scale)
    half_w, half_h = wa * torch.exp(tw) / 2, ha * torch.exp(th) / 2
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    return torch.stack([x - half_w, y - half_h, x + half_w, y + half_h], 1)


def _smooth_l1(x, y, beta=1.0):
    return F.smooth_l1_loss(x, y, reduction="sum", beta=beta)


@numpy_io
def smooth_l1_forward(x: Array, y: Array, beta: float = 1.0) -> Array:
    """sum of 0.5 d^2 / beta (|d| < beta), |d| - 0.5 beta (elsewhere), d = x - y."""
    return _smooth_l1(x, y, beta)


def smooth_l1_backward(dout: float, x: Array, y: Array, beta: float = 1.0) -> Array:
    """d(dout * smooth_l1_forward(x, y, beta)) / dx."""
    return vjp(lambda x, y: dout * _smooth_l1(x, y, beta), (x,), None, y=y)[0]


def _output_size(output_size) -> tuple[int, int]:
    if isinstance(output_size, int):
        return output_size, output_size
    return int(output_size[0]), int(output_size[1])


def _roi_pool(x, rois, output_size, spatial_scale):
    H, W = x.shape[2:]
    outs = []
    for roi in rois.tolist():
        b = int(roi[0])
        # C's round(): halves away from zero.
        x1, y1, x2, y2 = (
            int(math.copysign(math.floor(abs(v * spatial_scale) + 0.5), v)) for v in roi[1:]
        )
        rows = torch.arange(y1, y1 + max(y2 - y1 + 1, 1), device=x.device)
        cols = torch.arange(x1, x1 + max(x2 - x1 + 1, 1), device=x.device)
        inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < W))[None, :]
        crop = x[b][:, rows.clamp(0, H - 1)][:, :, cols.clamp(0, W - 1)]  # (C, roi_h, roi_w)
        crop = crop.masked_fill(~inside, -math.inf)
        pooled = F.adaptive_max_pool2d(crop[None], _output_size(output_size))[0]
        outs.append(pooled.masked_fill(pooled == -math.inf, 0.0))  # bins outside the map
    if not outs:
        return x.new_zeros((0, x.shape[1], *_output_size(output_size)))
    return torch.stack(outs)


@numpy_io
def roi_pool_forward(x: Array, rois: Array, output_size, spatial_scale: float) -> Array:
    """RoI max pooling (K, C, PH, PW) with torchvision roi_pool's bins, by adaptive max pooling."""
    return _roi_pool(x, rois, output_size, spatial_scale)


def roi_pool_backward(dout: Array, x: Array, rois: Array, output_size, spatial_scale: float):
    """dx (N, C, H, W) of roi_pool_forward for the upstream gradient dout (K, C, PH, PW)."""
    return vjp(
        _roi_pool, (x,), dout, rois=rois, output_size=output_size, spatial_scale=spatial_scale
    )[0]


def _sample(feature: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """Bilinear values (C, len(ys), len(xs)) of feature (C, H, W) at the points (ys x xs)."""
    H, W = feature.shape[1:]
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    valid = (Y >= -1) & (Y <= H) & (X >= -1) & (X <= W)
    Y, X = Y.clamp(min=0), X.clamp(min=0)
    y0, x0 = Y.floor().long(), X.floor().long()
    Y = torch.where(y0 >= H - 1, float(H - 1), Y)  # at or past the last row: that row only
    X = torch.where(x0 >= W - 1, float(W - 1), X)
    y0, x0 = y0.clamp(max=H - 1), x0.clamp(max=W - 1)
    y1, x1 = (y0 + 1).clamp(max=H - 1), (x0 + 1).clamp(max=W - 1)
    ly, lx = Y - y0, X - x0
    value = (
        (1 - ly) * (1 - lx) * feature[:, y0, x0]
        + (1 - ly) * lx * feature[:, y0, x1]
        + ly * (1 - lx) * feature[:, y1, x0]
        + ly * lx * feature[:, y1, x1]
    )
    return value * valid


def _roi_align(x, rois, output_size, spatial_scale, sampling_ratio=2, aligned=True):
    PH, PW = _output_size(output_size)
    offset = 0.5 if aligned else 0.0
    outs = []
    for roi in rois.tolist():
        b = int(roi[0])
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in roi[1:])
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / PH)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / PW)
        if gh <= 0 or gw <= 0:
            outs.append(x.new_zeros((x.shape[1], PH, PW)))
            continue
        bin_h, bin_w = roi_h / PH, roi_w / PW
        iy = torch.arange(gh, dtype=x.dtype, device=x.device)
        ix = torch.arange(gw, dtype=x.dtype, device=x.device)
        ph = torch.arange(PH, dtype=x.dtype, device=x.device)
        pw = torch.arange(PW, dtype=x.dtype, device=x.device)
        ys = (y1 + ph[:, None] * bin_h + (iy[None, :] + 0.5) * bin_h / gh).reshape(-1)
        xs = (x1 + pw[:, None] * bin_w + (ix[None, :] + 0.5) * bin_w / gw).reshape(-1)
        values = _sample(x[b], ys, xs)  # (C, PH * gh, PW * gw)
        outs.append(values.reshape(-1, PH, gh, PW, gw).mean(dim=(2, 4)))
    if not outs:
        return x.new_zeros((0, x.shape[1], PH, PW))
    return torch.stack(outs)


@numpy_io
def roi_align_forward(
    x: Array,
    rois: Array,
    output_size,
    spatial_scale: float,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> Array:
    """RoI Align (K, C, PH, PW) with torchvision roi_align's conventions."""
    return _roi_align(x, rois, output_size, spatial_scale, sampling_ratio, aligned)


def roi_align_backward(
    dout: Array,
    x: Array,
    rois: Array,
    output_size,
    spatial_scale: float,
    sampling_ratio: int = 2,
    aligned: bool = True,
):
    """dx (N, C, H, W) of roi_align_forward for the upstream gradient dout (K, C, PH, PW)."""
    return vjp(
        _roi_align,
        (x,),
        dout,
        rois=rois,
        output_size=output_size,
        spatial_scale=spatial_scale,
        sampling_ratio=sampling_ratio,
        aligned=aligned,
    )[0]
