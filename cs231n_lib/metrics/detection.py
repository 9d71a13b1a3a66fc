"""Detections against ground-truth boxes (10_detection): precision, recall, AP and mAP.

average_precision (VOC all-point or COCO 101-point), match_detections, detection_pr,
evaluate_detections (per-class AP and mAP at any IoU thresholds) and coco_map
(mAP@[0.5:0.95], pycocotools' COCOeval AP, checked against it in the tests). The
conventions are set out in the comment above COCO_IOU_THRESHOLDS.

Mask AP (11_segmentation) is the same evaluation on masks: with iou_type="segm" (COCOeval's
name) evaluate_detections, coco_map and detection_pr take instance masks (P, H, W) in place
of boxes (P, 4) and match on metrics.segmentation.mask_iou; everything else is unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cs231n_lib.layers.boxes import box_iou
from cs231n_lib.metrics.segmentation import mask_iou

# --- detection: precision, recall, average precision, mAP ---------------------------------
#
# Detections of one image are boxes (P, 4) = (x1, y1, x2, y2), scores (P,) and labels (P,)
# in 0 .. num_classes - 1; its ground truth is boxes (G, 4) and labels (G,). Every function
# below takes LISTS of these, one entry per image.
#
# Matching, per class, at an IoU threshold t (pycocotools' COCOeval rule): the class's
# detections of an image are taken by decreasing score (ties: the earlier first), at most
# max_detections of them; each is matched to the ground-truth box of its class with the
# highest IoU >= t among those not matched yet (on an IoU tie, the later box, as COCOeval
# does), and is a true positive if there is one. A ground truth is matched at most once: a
# second detection of it is a false positive, unless it matches another free box.
# NOTE: the PASCAL VOC devkit differs: IoU > 0.5 (strict), and a detection whose best box
# is taken is a false positive even when a second box would match.
#
# Over all images, the detections of a class are sorted by decreasing score (a stable
# sort of the images in order, each image's in its own order) into precision
# tp / (tp + fp) and recall tp / num_gt after each detection: the precision-recall curve.
# A class without any ground truth has no AP (nan here, -1 in pycocotools) and is left out
# of the mAP; a class with ground truth but no detections has AP 0.
#
# pycocotools details that do not matter here: its IoU works on (x, y, w, h) with no "+ 1"
# (the same numbers), crowd boxes and area ranges (area "all" keeps every box), and the
# tiny eps it adds to tp + fp.

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # 0.5, 0.55, ..., 0.95 as COCOeval's
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)  # 0, 0.01, ..., 1 as COCOeval's
AP_METHODS = ("voc", "coco")
IOU_TYPES = ("bbox", "segm")  # what is matched: boxes (box_iou) or masks (mask_iou)


def average_precision(recall, precision, method: str = "voc") -> float:
    """Area under a precision-recall curve, with precision made monotone first.

    The envelope p_interp(r) = max precision at any recall >= r removes the curve's
    zig-zags; then
    - method="voc": VOC all-point AP (VOC 2010 on), the exact area under the envelope's
      step curve, sum over recall steps of (r_i - r_{i-1}) p_interp(r_i);
    - method="coco": 101-point AP (COCOeval), the mean of p_interp at recall 0, 0.01, ...,
      1, where a recall never reached counts 0.

    Inputs: recall and precision (P,), after each detection in order of decreasing score
    (recall non-decreasing). An empty curve (no detections) has AP 0.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.ndim != 1 or recall.shape != precision.shape:
        raise ValueError(
            f"recall and precision must be 1-d of one length, got {recall.shape} and "
            f"{precision.shape}"
        )
    if method not in AP_METHODS:
        raise ValueError(f"method must be one of {AP_METHODS}, got {method!r}")
    if method == "voc":
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the envelope
        steps = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    if recall.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    first = np.searchsorted(recall, COCO_RECALL_THRESHOLDS, side="left")
    reached = first < recall.size
    return float(np.where(reached, envelope[np.minimum(first, recall.size - 1)], 0.0).mean())


def _greedy_match(ious: np.ndarray, iou_thresholds: np.ndarray) -> np.ndarray:
    """True positives (T, P) of P detections, sorted by score, against G boxes: ious (P, G)."""
    P, G = ious.shape
    tp = np.zeros((len(iou_thresholds), P), dtype=bool)
    if G == 0:
        return tp
    limit = np.minimum(iou_thresholds, 1 - 1e-10)[:, None]  # (T, 1), as COCOeval
    matched = np.zeros((len(iou_thresholds), G), dtype=bool)
    rows = np.arange(len(iou_thresholds))
    for p in range(P):
        free = ~matched & (ious[p] >= limit)  # (T, G)
        candidates = np.where(free, ious[p], -np.inf)
        best = G - 1 - np.argmax(candidates[:, ::-1], axis=1)  # the last of the highest
        hit = free[rows, best]
        tp[hit, p] = True
        matched[rows[hit], best[hit]] = True
    return tp


def match_detections(boxes, scores, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """True-positive flags (P,) of one image's detections of one class, in input order.

    Greedy by decreasing score (ties: lower index first): a detection takes the free
    ground-truth box with the highest IoU >= iou_threshold, if any; a box taken once is
    never matched again, so a second detection of it is a false positive.
    Inputs: boxes (P, 4), scores (P,), gt_boxes (G, 4) of the same class.
    """
    boxes, gt_boxes = _as_box_array("boxes", boxes), _as_box_array("gt_boxes", gt_boxes)
    scores = _as_score_array(scores, len(boxes))
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(len(boxes), dtype=bool)
    tp[order] = _greedy_match(box_iou(boxes[order], gt_boxes), np.array([iou_threshold]))[0]
    return tp


def _as_box_array(name: str, boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be (n, 4) arrays of (x1, y1, x2, y2), got {boxes.shape}")
    return boxes


def _as_score_array(scores, n: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape != (n,):
        raise ValueError(f"got {scores.size} scores for {n} boxes")
    return scores


def _as_label_array(name: str, labels, n: int, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if labels.shape != (n,):
        raise ValueError(f"got {labels.size} {name} for {n} boxes")
    if n and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must be integers in 0..{num_classes - 1}, got {labels}")
    return labels.astype(np.int64)


class DetectionEvaluation(NamedTuple):
    """What evaluate_detections finds; ap and num_gt are per class, map the mean AP."""

    ap: np.ndarray  # (num_classes, T): AP of each class at each IoU threshold, nan: no gt
    num_gt: np.ndarray  # (num_classes,): ground-truth boxes of each class
    iou_thresholds: np.ndarray  # (T,)
    map: float  # mean over classes with ground truth of their AP averaged over thresholds
    map_per_threshold: np.ndarray  # (T,): mAP at each threshold (mAP50 at 0.5, ...)


def _as_mask_array(name: str, masks) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.size == 0 and masks.ndim != 3:
        return np.zeros((0, 0, 0), dtype=bool)  # e.g. [] for an image without masks
    if masks.ndim != 3:
        raise ValueError(f"{name} must be (n, H, W) stacks of masks, got {masks.shape}")
    return masks


def _iou_functions(iou_type: str):
    """(how one image's boxes or masks are read, the pairwise IoU) for an iou_type."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    return (_as_box_array, box_iou) if iou_type == "bbox" else (_as_mask_array, mask_iou)


def _per_class_curves(
    pred_boxes,
    pred_scores,
    pred_labels,
    gt_boxes,
    gt_labels,
    num_classes,
    thresholds,
    max_det,
    iou_type="bbox",
):
    """For each class: (scores (D,), true positives (T, D), num_gt), D its detections."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    as_array, iou = _iou_functions(iou_type)
    lists = (pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels)
    if len({len(v) for v in lists}) != 1:
        raise ValueError(
            "pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels must be lists with one "
            f"entry per image, got lengths {[len(v) for v in lists]}"
        )
    scores = [[] for _ in range(num_classes)]
    hits = [[] for _ in range(num_classes)]
    num_gt = np.zeros(num_classes, dtype=np.int64)
    for boxes, image_scores, labels, gts, gt_classes in zip(*lists, strict=True):
        boxes, gts = as_array("pred_boxes", boxes), as_array("gt_boxes", gts)
        image_scores = _as_score_array(image_scores, len(boxes))
        labels = _as_label_array("pred_labels", labels, len(boxes), num_classes)
        gt_classes = _as_label_array("gt_labels", gt_classes, len(gts), num_classes)
        num_gt += np.bincount(gt_classes, minlength=num_classes)
        for c in np.unique(labels):
            mine = np.flatnonzero(labels == c)
            mine = mine[np.argsort(-image_scores[mine], kind="stable")][:max_det]
            ious = iou(boxes[mine], gts[gt_classes == c])  # (D_c, G_c)
            scores[c].append(image_scores[mine])
            hits[c].append(_greedy_match(ious, thresholds))
    curves = []
    for c in range(num_classes):
        s = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        tp = np.concatenate(hits[c], axis=1) if hits[c] else np.zeros((len(thresholds), 0), bool)
        order = np.argsort(-s, kind="stable")  # images in order, ties keep their order
        curves.append((s[order], tp[:, order], int(num_gt[c])))
    return curves


def _precision_recall(tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall (..., D) after each detection from true-positive flags (..., D)."""
    tp_sum = np.cumsum(tp, axis=-1, dtype=np.float64)
    fp_sum = np.cumsum(~tp, axis=-1, dtype=np.float64)
    recall = tp_sum / num_gt if num_gt else np.zeros_like(tp_sum)
    return tp_sum / (tp_sum + fp_sum), recall  # tp + fp >= 1 after each detection


class PRCurve(NamedTuple):
    """A class's precision-recall curve: after each detection by decreasing score."""

    precision: np.ndarray  # (D,)
    recall: np.ndarray  # (D,), 0 if the class has no ground truth
    scores: np.ndarray  # (D,): the score of each detection, decreasing
    num_gt: int


def detection_pr(
    pred_boxes,
    pred_scores,
    pred_labels,
    gt_boxes,
    gt_labels,
    class_id: int,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    iou_type: str = "bbox",
) -> PRCurve:
    """The precision-recall curve of one class over a list of images (see above); masks in
    place of boxes with iou_type="segm"."""
    if isinstance(class_id, bool) or not isinstance(class_id, int | np.integer) or class_id < 0:
        raise ValueError(f"class_id must be an int >= 0, got {class_id!r}")
    seen = [int(np.max(labels)) for labels in (*pred_labels, *gt_labels) if np.size(labels)]
    num_classes = 1 + max([int(class_id), *seen])  # enough classes to hold every label
    scores, tp, num_gt = _per_class_curves(
        pred_boxes,
        pred_scores,
        pred_labels,
        gt_boxes,
        gt_labels,
        num_classes,
        np.array([iou_threshold]),
        max_detections,
        iou_type,
    )[int(class_id)]
    precision, recall = _precision_recall(tp[0], num_gt)
    return PRCurve(precision, recall, scores, num_gt)


def evaluate_detections(
    pred_boxes,
    pred_scores,
    pred_labels,
    gt_boxes,
    gt_labels,
    num_classes: int,
    iou_thresholds=(0.5,),
    method: str = "voc",
    max_detections: int = 100,
    iou_type: str = "bbox",
) -> DetectionEvaluation:
    """Per-class AP and mAP of detections over a list of images.

    Inputs (lists with one entry per image, see above): pred_boxes (P_i, 4), pred_scores
    (P_i,), pred_labels (P_i,), gt_boxes (G_i, 4), gt_labels (G_i,); num_classes;
    iou_thresholds, e.g. (0.5,) for mAP50 or COCO_IOU_THRESHOLDS; method "voc" (all-point)
    or "coco" (101-point), see average_precision; max_detections per image and class;
    iou_type "bbox" (boxes, box_iou) or "segm" (mask AP: pred_boxes and gt_boxes hold
    binary masks (P_i, H_i, W_i) and (G_i, H_i, W_i), matched on mask_iou).
    Returns a DetectionEvaluation; map is nan when no class has ground truth.
    """
    thresholds = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if method not in AP_METHODS:
        raise ValueError(f"method must be one of {AP_METHODS}, got {method!r}")
    if thresholds.size == 0 or thresholds.min() < 0 or thresholds.max() > 1:
        raise ValueError(f"iou_thresholds must lie in [0, 1], got {iou_thresholds!r}")
    curves = _per_class_curves(
        pred_boxes,
        pred_scores,
        pred_labels,
        gt_boxes,
        gt_labels,
        num_classes,
        thresholds,
        max_detections,
        iou_type,
    )
    ap = np.full((num_classes, thresholds.size), np.nan)
    for c, (_, tp, num_gt) in enumerate(curves):
        if num_gt == 0:
            continue  # no AP: left out of the mAP, as COCOeval's -1
        precision, recall = _precision_recall(tp, num_gt)
        for t in range(thresholds.size):
            ap[c, t] = average_precision(recall[t], precision[t], method)
    num_gt = np.array([curve[2] for curve in curves])
    with_gt = ap[num_gt > 0]
    per_threshold = with_gt.mean(axis=0) if len(with_gt) else np.full(thresholds.size, np.nan)
    mean_ap = float(with_gt.mean()) if len(with_gt) else float("nan")
    return DetectionEvaluation(ap, num_gt, thresholds, mean_ap, per_threshold)


def coco_map(
    pred_boxes,
    pred_scores,
    pred_labels,
    gt_boxes,
    gt_labels,
    num_classes: int,
    max_detections: int = 100,
    iou_type: str = "bbox",
) -> float:
    """COCO mAP@[0.5:0.95]: 101-point AP averaged over the IoU thresholds 0.5, 0.55, ...,
    0.95 and over the classes with ground truth; what pycocotools' COCOeval reports as AP
    (area "all", maxDets=100) for iouType "bbox", or for "segm" (mask AP) with masks in
    place of boxes. Inputs as evaluate_detections'.
    """
    return evaluate_detections(
        pred_boxes,
        pred_scores,
        pred_labels,
        gt_boxes,
        gt_labels,
        num_classes,
        iou_thresholds=COCO_IOU_THRESHOLDS,
        method="coco",
        max_detections=max_detections,
        iou_type=iou_type,
    ).map
