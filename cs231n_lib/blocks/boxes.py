"""Box operations and RoI Align in torch, for the detectors of 10_detection and later notebooks.

The conventions of cs231n_lib.layers.boxes (which the student writes in numpy): boxes
(N, 4) = (x1, y1, x2, y2) in pixels, area (x2 - x1) (y2 - y1); RoIs (K, 5) =
(batch_index, x1, y1, x2, y2) in image pixels; features (N, C, H, W). Every function
computes on its inputs' device and dtype.

- box_area, box_iou -> (M, N); nms, batched_nms -> kept indices (int64, on the boxes'
  device) by decreasing score, ties lower index first.
- encode_boxes, decode_boxes (max_log_scale=BBOX_XFORM_CLIP caps tw, th before the exp).
- roi_align(x, rois, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True) ->
  (K, C, PH, PW), torchvision's RoI Align vectorized over RoIs and differentiable with
  respect to x by autograd (RoIs are constants, as in torchvision: detach them).
- make_anchors(feature_size, stride, sizes, ratios) -> (H W A, 4) anchors for a grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

# Faster R-CNN's (and torchvision's) cap on tw, th before exp: no box grows > 1000/16 times.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def _check_boxes(name: str, boxes: torch.Tensor) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} must be an (N, 4) tensor of (x1, y1, x2, y2), got {tuple(boxes.shape)}"
        )


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas (N,) of boxes (N, 4)."""
    _check_boxes("boxes", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU (M, N) of boxes1 (M, 4) against boxes2 (N, 4); 0 for disjoint boxes and empty unions.

    Differentiable in both arguments (where the union is not empty).
    """
    _check_boxes("boxes1", boxes1)
    _check_boxes("boxes2", boxes2)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (M, N, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]  # (M, N)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    nonempty = union > 0
    return torch.where(nonempty, inter / torch.where(nonempty, union, 1.0), 0.0)


def _greedy(boxes, scores, labels, iou_threshold: float) -> torch.Tensor:
    _check_boxes("boxes", boxes)
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must be ({len(boxes)},), got {tuple(scores.shape)}")
    order = torch.argsort(scores.detach(), descending=True, stable=True)  # ties: lower index
    ordered = boxes.detach()[order]
    overlaps = box_iou(ordered, ordered) > iou_threshold  # (N, N)
    if labels is not None:
        if labels.shape != (len(boxes),):
            raise ValueError(f"labels must be ({len(boxes)},), got {tuple(labels.shape)}")
        ordered_labels = labels[order]
        overlaps &= ordered_labels[:, None] == ordered_labels[None, :]
    overlaps = overlaps.cpu().numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlaps[i]
    return order[torch.as_tensor(keep, dtype=torch.int64, device=order.device)]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS: indices of the kept boxes (int64) by decreasing score (ties: lower index).

    One (N, N) IoU matrix on the boxes' device, then the greedy walk on the CPU: a box is
    kept unless a kept box with a higher score overlaps it by IoU > iou_threshold.
    """
    return _greedy(boxes, scores, None, iou_threshold)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware NMS: as nms, but only boxes of the same label suppress each other."""
    return _greedy(boxes, scores, labels, iou_threshold)


def _centres_sizes(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_boxes(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Regression targets (N, 4) = ((x - xa) / wa, (y - ya) / ha, log(w / wa), log(h / ha))."""
    _check_boxes("boxes", boxes)
    _check_boxes("anchors", anchors)
    x, y, w, h = _centres_sizes(boxes)
    xa, ya, wa, ha = _centres_sizes(anchors)
    return torch.stack([(x - xa) / wa, (y - ya) / ha, torch.log(w / wa), torch.log(h / ha)], 1)


def decode_boxes(
    deltas: torch.Tensor, anchors: torch.Tensor, max_log_scale: float | None = None
) -> torch.Tensor:
    """Boxes (N, 4) from deltas (N, 4) and anchors (N, 4), encode_boxes' inverse.

    max_log_scale: None decodes exactly; detectors pass BBOX_XFORM_CLIP so that an
    untrained regressor's exp cannot overflow (tw, th are capped before the exp).
    """
    _check_boxes("deltas", deltas)
    _check_boxes("anchors", anchors)
    xa, ya, wa, ha = _centres_sizes(anchors)
    tw, th = deltas[:, 2], deltas[:, 3]
    if max_log_scale is not None:
        tw, th = tw.clamp(max=max_log_scale), th.clamp(max=max_log_scale)
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    w, h = wa * torch.exp(tw), ha * torch.exp(th)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], 1)


def _pair(name: str, value) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _interpolation(
    start: torch.Tensor, bin_size: torch.Tensor, grid: torch.Tensor, P: int, size: int
) -> torch.Tensor:
    """(K, P, size): row p averages the bilinear weights of bin p's sample points (one axis)."""
    G = max(int(grid.max()), 1) if len(grid) else 1
    p = torch.arange(P, device=start.device, dtype=start.dtype)[None, :, None]
    g = torch.arange(G, device=start.device, dtype=start.dtype)[None, None, :]
    grid_k = grid.clamp(min=1).to(start.dtype)[:, None, None]
    bin_k = bin_size[:, None, None]
    pos = start[:, None, None] + p * bin_k + (g + 0.5) * bin_k / grid_k  # (K, P, G)
    valid = (g < grid[:, None, None]) & (pos >= -1) & (pos <= size)
    pos = pos.clamp(min=0)
    low = pos.floor().long()
    at_end = low >= size - 1
    low = low.clamp(max=size - 1)
    high = torch.where(at_end, low, low + 1)
    frac = torch.where(at_end, 0.0, pos - low)
    weights = pos.new_zeros((*pos.shape[:2], size))
    weights.scatter_add_(2, low, (1 - frac) * valid)  # several samples can share a cell
    weights.scatter_add_(2, high, frac * valid)
    return weights / grid_k


def roi_align(
    x: torch.Tensor,
    rois: torch.Tensor,
    output_size,
    spatial_scale: float = 1.0,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> torch.Tensor:
    """RoI Align with torchvision's conventions: out (K, C, PH, PW) from x (N, C, H, W).

    rois (K, 5) = (batch_index, x1, y1, x2, y2) in image pixels, times spatial_scale on
    the map; aligned=True shifts them by -0.5 cell; each bin averages sampling_ratio^2
    bilinear samples (ceil(roi size / output size) per axis when sampling_ratio <= 0).
    Bilinear sampling is separable: out[k] = Ay[k] @ x[b_k] @ Ax[k]^T with interpolation
    matrices Ay (PH, H), Ax (PW, W), so the RoIs of an image go through two matmuls.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be a feature map (N, C, H, W), got shape {tuple(x.shape)}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(
            f"rois must be (K, 5) = (batch_index, x1, y1, x2, y2), got {tuple(rois.shape)}"
        )
    PH, PW = _pair("output_size", output_size)
    H, W = x.shape[2:]
    rois = rois.detach().to(device=x.device, dtype=x.dtype)
    batch = rois[:, 0].long()
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale - offset).unbind(1)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1), roi_h.clamp(min=1)
    if sampling_ratio > 0:
        grid_h = grid_w = torch.full_like(batch, int(sampling_ratio))
    else:
        grid_h = torch.ceil(roi_h / PH).clamp(min=0).long()
        grid_w = torch.ceil(roi_w / PW).clamp(min=0).long()
    Ay = _interpolation(y1, roi_h / PH, grid_h, PH, H)  # (K, PH, H)
    Ax = _interpolation(x1, roi_w / PW, grid_w, PW, W)  # (K, PW, W)
    C = x.shape[1]
    # NOTE: one GEMM per image, not x[batch] (a (K, C, H, W) copy): 7x faster on a CPU.
    pieces, members = [], []
    for n in torch.unique(batch).tolist():
        index = torch.nonzero(batch == n)[:, 0]
        k = len(index)
        rows = Ay[index].reshape(k * PH, H) @ x[n].transpose(0, 1).reshape(H, C * W)
        both = rows.reshape(k, PH * C, W) @ Ax[index].transpose(1, 2)  # (k, PH C, PW)
        pieces.append(both.reshape(k, PH, C, PW).transpose(1, 2))  # (k, C, PH, PW)
        members.append(index)
    if not pieces:  # no RoIs: an empty output that still backpropagates (zeros)
        return x.new_zeros((0, C, PH, PW)) + 0 * x.sum()
    order = torch.argsort(torch.cat(members))
    return torch.cat(pieces)[order]


def make_anchors(
    feature_size,
    stride,
    sizes: Sequence[float],
    ratios: Sequence[float] = (1.0,),
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Anchors (H W A, 4) in image pixels for a feature map of feature_size = H or (H, W).

    Cell (i, j) of a map with stride s (or (sy, sx)) is centred at ((j + 0.5) sx,
    (i + 0.5) sy); it gets A = len(sizes) len(ratios) anchors, sizes outer, ratios inner,
    with ratio = height / width and area size^2: w = size / sqrt(ratio), h = size sqrt(ratio).
    Row order: cell by cell in row-major order, then the A anchors of the cell, so the
    anchors line up with a head's output (N, A * k, H, W).permute(0, 2, 3, 1).reshape(N, -1, k).
    device: where to make them (default CPU).
    """
    H, W = _pair("feature_size", feature_size)
    sy, sx = (stride, stride) if isinstance(stride, int | float) else tuple(stride)
    if not (sy > 0 and sx > 0) or not sizes or not ratios:
        raise ValueError(
            f"need stride > 0 and at least one size and ratio, got stride={stride!r}, "
            f"sizes={sizes!r}, ratios={ratios!r}"
        )
    if min(sizes) <= 0 or min(ratios) <= 0:
        raise ValueError(f"sizes and ratios must be positive, got {sizes!r} and {ratios!r}")
    kw = {"device": device, "dtype": torch.float64}
    size = torch.as_tensor(sizes, **kw)[:, None]
    ratio = torch.as_tensor(ratios, **kw)[None, :]
    half_w = (size / ratio.sqrt() / 2).reshape(-1)  # (A,), sizes outer, ratios inner
    half_h = (size * ratio.sqrt() / 2).reshape(-1)
    cy = (torch.arange(H, **kw) + 0.5) * sy
    cx = (torch.arange(W, **kw) + 0.5) * sx
    cy, cx = torch.meshgrid(cy, cx, indexing="ij")  # (H, W)
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)  # (H W, 1)
    anchors = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=2)
    return anchors.reshape(-1, 4).to(dtype)
