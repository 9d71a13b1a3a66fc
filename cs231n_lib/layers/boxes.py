"""Boxes in numpy: area, IoU, non-maximum suppression, box regression, smooth L1, RoI pooling
and RoI Align (10_detection has the student write these).

Boxes are (N, 4) float arrays (x1, y1, x2, y2) in pixels, x1 <= x2 and y1 <= y2, on a
continuous plane: a box's width is x2 - x1 and its area (x2 - x1) (y2 - y1), no "+ 1" (as
torchvision and pycocotools measure them). RoIs for pooling are (K, 5) arrays (batch_index,
x1, y1, x2, y2) in image pixels; spatial_scale maps them onto the feature map (1 / stride).
Feature maps are x (N, C, H, W); pooled outputs (K, C, PH, PW) with output_size = PH or
(PH, PW).

- box_area, box_iou (a pairwise (M, N) matrix), nms and the class-aware batched_nms: greedy
  suppression as in the course notes. Kept indices come by decreasing score, ties lower
  index first; a box is dropped when its IoU with a kept box is > iou_threshold.
- encode_boxes / decode_boxes: the R-CNN box parametrization relative to anchors (or
  proposals) with centres (xa, ya) and sizes (wa, ha):
  tx = (x - xa) / wa, ty = (y - ya) / ha, tw = log(w / wa), th = log(h / ha).
- smooth_l1_forward / smooth_l1_backward: the Fast R-CNN box loss, summed.
- roi_pool_forward / roi_pool_backward: max pooling over quantized bins (Fast R-CNN), as
  torchvision.ops.roi_pool computes it; roi_align_forward / roi_align_backward: bilinear
  samples averaged per bin (Mask R-CNN), as torchvision.ops.roi_align computes it.

Forwards of layers return (out, cache) and backwards take (dout, cache), as every numpy
layer; the backwards give the gradient with respect to the features x only (RoIs are
constants, as in torchvision).
"""

from __future__ import annotations

import math

import numpy as np

# Faster R-CNN's (and torchvision's) cap on tw, th before exp: no box grows > 1000/16 times.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def _as_boxes(name: str, boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be an (N, 4) array of (x1, y1, x2, y2), got {boxes.shape}")
    return boxes


def _as_vector(name: str, values, n: int, dtype=np.float64) -> np.ndarray:
    values = np.asarray(values, dtype=dtype)
    if values.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one per box, got {values.shape}")
    return values


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas (N,) of boxes (N, 4): (x2 - x1) * (y2 - y1)."""
    boxes = _as_boxes("boxes", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair: (M, N) for boxes1 (M, 4) and boxes2 (N, 4).

    Disjoint boxes have IoU 0 (the intersection's width and height are clipped at 0); a
    pair whose union has area 0 (two degenerate boxes) has IoU 0 too.
    """
    boxes1, boxes2 = _as_boxes("boxes1", boxes1), _as_boxes("boxes2", boxes2)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (M, N, 2)
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (M, N, 2)
    wh = np.clip(bottom_right - top_left, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]  # (M, N)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices (int64) of the boxes kept, by decreasing score.

    Repeat: keep the highest-scoring box left, drop every remaining box whose IoU with it
    is > iou_threshold. Equal scores: the lower index counts as higher.
    Inputs: boxes (N, 4), scores (N,), iou_threshold in [0, 1].
    """
    boxes = _as_boxes("boxes", boxes)
    scores = _as_vector("scores", scores, len(boxes))
    order = np.argsort(-scores, kind="stable")  # stable: ties keep the lower index first
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = box_iou(boxes[best : best + 1], boxes[rest])[0]  # (len(rest),)
        order = rest[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware NMS: nms within each label; boxes of different labels never suppress
    each other. Returns kept indices (int64) by decreasing score (ties: lower index first).

    Inputs: boxes (N, 4), scores (N,), labels (N,) integers, iou_threshold in [0, 1].
    """
    boxes = _as_boxes("boxes", boxes)
    scores = _as_vector("scores", scores, len(boxes))
    labels = np.asarray(labels)
    if labels.shape != (len(boxes),) or not (labels.size == 0 or labels.dtype.kind in "iub"):
        raise ValueError(
            f"labels must be ({len(boxes)},) integers, got {labels.dtype} {labels.shape}"
        )
    kept = [np.zeros(0, dtype=np.int64)]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        kept.append(members[nms(boxes[members], scores[members], iou_threshold)])
    keep = np.concatenate(kept)
    return keep[np.lexsort((keep, -scores[keep]))]  # by -score, then by index


def _centres_sizes(name: str, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    if np.any(w <= 0) or np.any(h <= 0):
        bad = int(np.flatnonzero((w <= 0) | (h <= 0))[0])
        raise ValueError(f"{name} need positive widths and heights, row {bad} is {boxes[bad]}")
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_boxes(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Regression targets (N, 4) = (tx, ty, tw, th) of boxes (N, 4) relative to anchors (N, 4).

    tx = (x - xa) / wa, ty = (y - ya) / ha, tw = log(w / wa), th = log(h / ha), with (x, y)
    a box's centre and (w, h) its size. Both need positive widths and heights.
    """
    boxes, anchors = _as_boxes("boxes", boxes), _as_boxes("anchors", anchors)
    if boxes.shape != anchors.shape:
        raise ValueError(f"one anchor per box: boxes {boxes.shape}, anchors {anchors.shape}")
    x, y, w, h = _centres_sizes("boxes", boxes)
    xa, ya, wa, ha = _centres_sizes("anchors", anchors)
    return np.stack([(x - xa) / wa, (y - ya) / ha, np.log(w / wa), np.log(h / ha)], axis=1)


def decode_boxes(
    deltas: np.ndarray, anchors: np.ndarray, max_log_scale: float | None = None
) -> np.ndarray:
    """Boxes (N, 4) from deltas (N, 4) = (tx, ty, tw, th) and anchors (N, 4): encode_boxes'
    inverse. x = xa + tx wa, y = ya + ty ha, w = wa exp(tw), h = ha exp(th).

    max_log_scale: None (default) decodes exactly; a number caps tw and th at it before
    the exp, as Faster R-CNN does with BBOX_XFORM_CLIP = log(1000 / 16), so that an untrained
    regressor cannot overflow.
    """
    deltas, anchors = _as_boxes("deltas", deltas), _as_boxes("anchors", anchors)
    if deltas.shape != anchors.shape:
        raise ValueError(f"one anchor per delta: deltas {deltas.shape}, anchors {anchors.shape}")
    xa, ya, wa, ha = _centres_sizes("anchors", anchors)
    tw, th = deltas[:, 2], deltas[:, 3]
    if max_log_scale is not None:
        tw, th = np.minimum(tw, max_log_scale), np.minimum(th, max_log_scale)
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    w, h = wa * np.exp(tw), ha * np.exp(th)
    return np.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=1)


def smooth_l1_forward(x: np.ndarray, y: np.ndarray, beta: float = 1.0) -> tuple[float, tuple]:
    """The Fast R-CNN smooth L1 loss, SUMMED over every entry (divide by the number of boxes
    or anchors yourself): with d = x - y,

        loss = sum 0.5 d^2 / beta  where |d| < beta,  |d| - 0.5 beta  elsewhere.

    beta = 0 is the L1 loss sum |d| (torch's smooth_l1_loss agrees, with reduction="sum").
    Inputs: x predictions and y targets of the same shape, e.g. (N, 4) deltas; beta >= 0.
    Returns (loss, cache): loss a float.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    d = x - y
    quadratic = np.abs(d) < beta  # empty for beta = 0: pure L1
    safe_beta = beta if beta > 0 else 1.0  # the quadratic branch is never taken at beta = 0
    loss = np.where(quadratic, 0.5 * d**2 / safe_beta, np.abs(d) - 0.5 * beta).sum()
    return float(loss), (d, quadratic, safe_beta)


def smooth_l1_backward(dout: float, cache: tuple) -> np.ndarray:
    """Gradient of smooth_l1_forward's loss with respect to x (that of y is its negative).

    Inputs: dout, the upstream gradient of the scalar loss; cache from the forward.
    Returns dx, x's shape: dout * (d / beta where |d| < beta, sign(d) elsewhere).
    """
    d, quadratic, safe_beta = cache
    return dout * np.where(quadratic, d / safe_beta, np.sign(d))


# --- RoI pooling and RoI Align -------------------------------------------------------------


def _pair(name: str, value) -> tuple[int, int]:
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_rois(x: np.ndarray, rois) -> tuple[np.ndarray, np.ndarray]:
    """(batch indices (K,) int64, rois (K, 5) float64), checked against x (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"x must be a feature map (N, C, H, W), got shape {x.shape}")
    rois = np.asarray(rois, dtype=np.float64)
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must be (K, 5) = (batch_index, x1, y1, x2, y2), got {rois.shape}")
    batch = rois[:, 0].astype(np.int64)
    if np.any(batch != rois[:, 0]) or np.any(batch < 0) or np.any(batch >= x.shape[0]):
        raise ValueError(
            f"rois[:, 0] must be batch indices in 0..{x.shape[0] - 1}, got {np.unique(rois[:, 0])}"
        )
    return batch, rois


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """C's round(): halves away from zero (np.round rounds them to even: 2.5 -> 2)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def roi_pool_forward(
    x: np.ndarray, rois: np.ndarray, output_size, spatial_scale: float
) -> tuple[np.ndarray, tuple]:
    """RoI max pooling (Fast R-CNN), with torchvision.ops.roi_pool's quantization.

    Each RoI is scaled by spatial_scale and rounded to whole feature cells (halves away
    from 0): columns x1 .. x2 INCLUSIVE, so roi_w = max(x2 - x1 + 1, 1) cells (rows alike).
    Bin (i, j) covers rows y1 + floor(i roi_h / PH) .. y1 + ceil((i + 1) roi_h / PH) - 1
    (columns alike), clipped to the map; out = the max over the bin, 0 for a bin that lies
    outside the map. NOTE: bin edges are computed in exact integer arithmetic; torchvision
    computes them in floating point, which can differ by a cell in rare cases.

    Inputs:
    - x: features (N, C, H, W); rois: (K, 5) (batch_index, x1, y1, x2, y2) in image pixels.
    - output_size: PH or (PH, PW); spatial_scale: feature cells per image pixel.
    Returns (out, cache): out (K, C, PH, PW).
    """
    x = np.asarray(x, dtype=np.float64)
    batch, rois = _check_rois(x, rois)
    PH, PW = _pair("output_size", output_size)
    N, C, H, W = x.shape
    K = len(rois)
    x1, y1, x2, y2 = _round_half_away(rois[:, 1:] * spatial_scale).astype(np.int64).T
    roi_w, roi_h = np.maximum(x2 - x1 + 1, 1), np.maximum(y2 - y1 + 1, 1)  # (K,)

    def bin_edges(start, length, P, size):
        p = np.arange(P)
        lo = (p * length[:, None]) // P  # floor(p length / P)
        hi = -((-(p + 1) * length[:, None]) // P)  # ceil((p + 1) length / P)
        return np.clip(lo + start[:, None], 0, size), np.clip(hi + start[:, None], 0, size)

    h_lo, h_hi = bin_edges(y1, roi_h, PH, H)  # (K, PH)
    w_lo, w_hi = bin_edges(x1, roi_w, PW, W)  # (K, PW)
    out = np.zeros((K, C, PH, PW))
    argmax = np.full((K, C, PH, PW), -1, dtype=np.int64)  # h * W + w of each max, -1: empty
    c_index, pw_index = np.arange(C)[:, None, None], np.arange(PW)[None, None, :]
    for k in range(K):
        # Only the cells the RoI's bins cover (they are clipped to the map already).
        top, bottom = h_lo[k].min(), h_hi[k].max()
        left, right = w_lo[k].min(), w_hi[k].max()
        if bottom <= top or right <= left:
            continue  # every bin is empty: out 0, argmax -1
        rows, cols = np.arange(top, bottom), np.arange(left, right)
        in_row = (rows >= h_lo[k, :, None]) & (rows < h_hi[k, :, None])  # (PH, h)
        in_col = (cols >= w_lo[k, :, None]) & (cols < w_hi[k, :, None])  # (PW, w)
        cells = x[batch[k], :, top:bottom, left:right]  # (C, h, w)
        # Max over each bin's columns, row by row, then over its rows; argmax keeps the
        # first maximum, so the winner is the first in row-major order, as torchvision's scan.
        by_col = np.where(in_col, cells[:, :, None, :], -np.inf)  # (C, h, PW, w)
        best_col = by_col.argmax(axis=3)  # (C, h, PW)
        row_max = np.take_along_axis(by_col, best_col[..., None], axis=3)[..., 0]
        by_row = np.where(in_row[:, :, None], row_max[:, None], -np.inf)  # (C, PH, h, PW)
        best_row = by_row.argmax(axis=2)  # (C, PH, PW)
        pooled = np.take_along_axis(by_row, best_row[:, :, None], axis=2)[:, :, 0]
        empty = (h_hi[k] <= h_lo[k])[:, None] | (w_hi[k] <= w_lo[k])[None, :]  # (PH, PW)
        out[k] = np.where(empty, 0.0, pooled)
        winner = (top + best_row) * W + left + best_col[c_index, best_row, pw_index]
        argmax[k] = np.where(empty, -1, winner)
    return out, (x.shape, batch, argmax)


def roi_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of roi_pool_forward: each output's gradient goes to the cell that was its
    max (summed where bins or RoIs share a cell); empty bins pass nothing.

    Inputs: dout (K, C, PH, PW); cache from roi_pool_forward. Returns dx (N, C, H, W).
    """
    x_shape, batch, argmax = cache
    N, C, H, W = x_shape
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != argmax.shape:
        raise ValueError(f"dout must have the output's shape {argmax.shape}, got {dout.shape}")
    k, c, _, _ = np.nonzero(argmax >= 0)
    flat = (batch[k] * C + c) * (H * W) + argmax[argmax >= 0]
    dx = np.bincount(flat, weights=dout[argmax >= 0], minlength=N * C * H * W)
    return dx.reshape(x_shape)


def _bilinear_matrix(
    start: np.ndarray, bin_size: np.ndarray, grid: np.ndarray, P: int, size: int
) -> np.ndarray:
    """(K, P, size): row p averages the bilinear weights of bin p's `grid` sample points.

    Along one axis, bin p of RoI k holds the samples start + p bin + (g + 0.5) bin / grid,
    g = 0 .. grid - 1. With torchvision's rules, a sample outside [-1, size] contributes 0,
    one in [-1, 0] is moved to 0, and one at or past size - 1 takes the last cell only.
    """
    G = max(int(grid.max(initial=0)), 1)
    p, g = np.arange(P)[None, :, None], np.arange(G)[None, None, :]
    grid_k = np.maximum(grid, 1)[:, None, None]
    pos = start[:, None, None] + p * bin_size[:, None, None]
    pos = pos + (g + 0.5) * bin_size[:, None, None] / grid_k  # (K, P, G)
    valid = (g < grid[:, None, None]) & (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0.0)
    low = np.floor(pos).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    frac = np.where(at_end, 0.0, pos - low)
    cells = np.arange(size)
    weights = ((low[..., None] == cells) * ((1.0 - frac) * valid)[..., None]) + (
        (high[..., None] == cells) * (frac * valid)[..., None]
    )  # (K, P, G, size)
    return weights.sum(axis=2) / grid_k


def roi_align_forward(
    x: np.ndarray,
    rois: np.ndarray,
    output_size,
    spatial_scale: float,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> tuple[np.ndarray, tuple]:
    """RoI Align (Mask R-CNN), as torchvision.ops.roi_align computes it.

    No rounding: the RoI (scaled by spatial_scale, and shifted by -0.5 when aligned, so
    that feature cell i has its centre at i + 0.5 like image pixels) is cut into PH x PW
    equal bins; each bin averages sampling_ratio x sampling_ratio bilinear samples at
    regularly spaced points (ceil(roi_h / PH) x ceil(roi_w / PW) of them, per RoI, when
    sampling_ratio <= 0). aligned=False (the original Mask R-CNN) does not shift and makes
    RoIs at least 1 x 1 cell.

    Bilinear interpolation is separable, so the layer is out[k] = Ay[k] x[b_k] Ax[k]^T with
    interpolation matrices Ay (PH, H) and Ax (PW, W) per RoI, and its backward is linear too.

    Inputs:
    - x: features (N, C, H, W); rois: (K, 5) (batch_index, x1, y1, x2, y2) in image pixels.
    - output_size: PH or (PH, PW); spatial_scale: feature cells per image pixel.
    - sampling_ratio: samples per bin along each axis (<= 0: adaptive); aligned: see above.
    Returns (out, cache): out (K, C, PH, PW).
    """
    x = np.asarray(x, dtype=np.float64)
    batch, rois = _check_rois(x, rois)
    PH, PW = _pair("output_size", output_size)
    H, W = x.shape[2:]
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale - offset).T
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = np.maximum(roi_w, 1.0), np.maximum(roi_h, 1.0)
    if sampling_ratio > 0:
        grid_h = grid_w = np.full(len(rois), int(sampling_ratio))
    else:
        grid_h = np.maximum(np.ceil(roi_h / PH), 0).astype(np.int64)
        grid_w = np.maximum(np.ceil(roi_w / PW), 0).astype(np.int64)
    Ay = _bilinear_matrix(y1, roi_h / PH, grid_h, PH, H)  # (K, PH, H)
    Ax = _bilinear_matrix(x1, roi_w / PW, grid_w, PW, W)  # (K, PW, W)
    out = Ay[:, None] @ x[batch] @ Ax[:, None].transpose(0, 1, 3, 2)  # (K, C, PH, PW)
    return out, (x.shape, batch, Ay, Ax)


def roi_align_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of roi_align_forward: dx[b_k] += Ay[k]^T dout[k] Ax[k], summed over RoIs.

    Inputs: dout (K, C, PH, PW); cache from roi_align_forward. Returns dx (N, C, H, W).
    """
    x_shape, batch, Ay, Ax = cache
    dout = np.asarray(dout, dtype=np.float64)
    expected = (len(batch), x_shape[1], Ay.shape[1], Ax.shape[1])
    if dout.shape != expected:
        raise ValueError(f"dout must have the output's shape {expected}, got {dout.shape}")
    per_roi = Ay.transpose(0, 2, 1)[:, None] @ dout @ Ax[:, None]  # (K, C, H, W)
    dx = np.zeros(x_shape)
    for n in np.unique(batch):
        dx[n] = per_roi[batch == n].sum(axis=0)
    return dx
