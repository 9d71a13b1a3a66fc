"""Segmentations against the truth (11_segmentation): confusion matrix, pixel accuracy,
per-class IoU and mIoU, and the IoU of instance masks.

Semantic segmentation is scored from ONE confusion matrix accumulated over every pixel of
a whole split (not a mean of per-image scores): conf[t, p] counts the pixels of true
class t predicted as p (rows truth, columns prediction, as scikit-learn's), background
being a class like any other. From it:

- pixel accuracy = trace(conf) / conf.sum(), the share of pixels labelled right;
- IoU_c = TP_c / (TP_c + FP_c + FN_c), with TP_c = conf[c, c], FP_c the rest of column c
  and FN_c the rest of row c: the overlap of the true and predicted regions of class c
  over their union. A class absent from both truth and prediction has no IoU (0 / 0):
  nan, and left out of the mean; a class present in one only has IoU 0;
- mIoU = the mean of IoU_c over the classes that have one: every class weighs the same,
  however many pixels it covers (a mean over pixels would let background dominate).

Pixels whose true label is ignore_index (e.g. 255 for "void") are left out everywhere.

- confusion_matrix(y_true, y_pred, num_classes, ignore_index=None) for arrays of any (one)
  shape; ConfusionMatrix accumulates one batch at a time over a split.
- pixel_accuracy(conf), per_class_iou(conf), mean_iou(conf).
- mask_iou(masks_a, masks_b): the (M, N) IoU of every pair of binary masks, as box_iou is
  for boxes; what mask AP matches on (metrics.detection with iou_type="segm").
"""

from __future__ import annotations

import numpy as np


def _as_labels(name: str, values, num_classes: int, allowed=None) -> np.ndarray:
    values = np.asarray(values)
    if values.size and values.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer class labels, got dtype {values.dtype}")
    bad = (values < 0) | (values >= num_classes)
    if allowed is not None:
        bad &= values != allowed
    if np.any(bad):
        raise ValueError(
            f"{name} must lie in 0..{num_classes - 1}"
            + ("" if allowed is None else f" (or be ignore_index={allowed})")
            + f", got {np.unique(values[bad])[:5]}"
        )
    return values.astype(np.int64)


def confusion_matrix(
    y_true, y_pred, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """Pixel counts (num_classes, num_classes) int64: conf[t, p] = #pixels of true class t
    predicted as class p.

    Inputs: y_true and y_pred, integer labels of one shape, any shape ((N, H, W), (H, W),
    flat...); num_classes; ignore_index: a true label whose pixels are not counted (their
    predictions may be anything then), or None.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have one shape, got {y_true.shape} and {y_pred.shape}"
        )
    y_true = _as_labels("y_true", y_true, num_classes, ignore_index)
    counted = np.ones(y_true.shape, bool) if ignore_index is None else y_true != ignore_index
    y_pred = _as_labels("y_pred", np.where(counted, y_pred, 0), num_classes)
    pairs = y_true[counted] * num_classes + y_pred[counted]  # one bin per (t, p)
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def _as_confusion(conf) -> np.ndarray:
    conf = np.asarray(conf)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1] or np.any(conf < 0):
        raise ValueError(f"conf must be a square (C, C) matrix of counts, got {conf.shape}")
    return conf.astype(np.float64)


def pixel_accuracy(conf) -> float:
    """trace(conf) / conf.sum(): the share of counted pixels labelled right; nan if none."""
    conf = _as_confusion(conf)
    total = conf.sum()
    return float(np.trace(conf) / total) if total else float("nan")


def per_class_iou(conf) -> np.ndarray:
    """(C,) IoU_c = TP / (TP + FP + FN) of each class; nan for a class absent from both the
    truth and the prediction (0 / 0), so that it never counts as a failure (0) nor a
    success (1)."""
    conf = _as_confusion(conf)
    tp = np.diag(conf)
    union = conf.sum(axis=0) + conf.sum(axis=1) - tp  # TP + FP + FN
    return np.divide(tp, union, out=np.full(len(conf), np.nan), where=union > 0)


def mean_iou(conf) -> float:
    """The mean of per_class_iou over the classes that have one (nan ones left out): every
    class weighs the same. nan if no class has an IoU (no pixel counted)."""
    iou = per_class_iou(conf)
    present = ~np.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")


class ConfusionMatrix:
    """A confusion matrix accumulated batch by batch over a whole split.

        conf = ConfusionMatrix(num_classes, ignore_index=255)
        for images, y in loader:
            conf.update(y, predictions)       # any shapes, e.g. (B, H, W)
        conf.mean_iou(), conf.per_class_iou(), conf.pixel_accuracy()

    `matrix` (C, C) int64 holds the counts so far (rows truth, columns prediction).
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        confusion_matrix(np.zeros(0, np.int64), np.zeros(0, np.int64), num_classes)  # checks
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, y_true, y_pred) -> ConfusionMatrix:
        """Add one batch's pixels (labels of one shape, any shape); returns self."""
        self.matrix += confusion_matrix(y_true, y_pred, self.num_classes, self.ignore_index)
        return self

    def reset(self) -> None:
        """Forget every pixel counted so far."""
        self.matrix[:] = 0

    def pixel_accuracy(self) -> float:
        return pixel_accuracy(self.matrix)

    def per_class_iou(self) -> np.ndarray:
        return per_class_iou(self.matrix)

    def mean_iou(self) -> float:
        return mean_iou(self.matrix)

    def __repr__(self) -> str:
        return (
            f"ConfusionMatrix(num_classes={self.num_classes}, pixels={int(self.matrix.sum())}, "
            f"mean_iou={self.mean_iou():.4f})"
        )


def _as_masks(name: str, masks) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"{name} must be a stack of masks (M, H, W), got shape {masks.shape}")
    if masks.size and masks.dtype != np.bool_ and not np.isin(masks, (0, 1)).all():
        raise ValueError(f"{name} must be binary (bool or 0/1), got values {np.unique(masks)[:5]}")
    return masks.astype(bool)


def mask_iou(masks_a, masks_b) -> np.ndarray:
    """Intersection over union of every pair of binary masks: (M, N) float64.

    IoU = |a and b| / |a or b| counted in pixels; two empty masks have IoU 0 (as
    box_iou's empty unions and pycocotools' mask IoU). With no masks on either side the
    result is an empty (M, N) array whatever the masks' sizes.
    Inputs: masks_a (M, H, W) and masks_b (N, H, W), bool or 0/1.
    """
    masks_a, masks_b = _as_masks("masks_a", masks_a), _as_masks("masks_b", masks_b)
    M, N = len(masks_a), len(masks_b)
    if M == 0 or N == 0:
        return np.zeros((M, N))
    if masks_a.shape[1:] != masks_b.shape[1:]:
        raise ValueError(
            f"masks must have one size (H, W), got {masks_a.shape[1:]} and {masks_b.shape[1:]}"
        )
    a = masks_a.reshape(M, -1).astype(np.float64)  # 0/1: the products count exactly
    b = masks_b.reshape(N, -1).astype(np.float64)
    inter = a @ b.T  # (M, N)
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
