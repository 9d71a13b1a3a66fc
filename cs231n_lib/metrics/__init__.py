"""Scores of a model's output against the truth, one module per kind of output.

- `text`: generated captions against references (corpus BLEU, exact match; 08, 09).
- `detection`: detections against ground-truth boxes (AP, mAP, COCO mAP; 10), or against
  instance masks with iou_type="segm" (mask AP; 11).
- `segmentation`: label maps against the truth from one confusion matrix (pixel accuracy,
  per-class IoU, mIoU) and the IoU of instance masks (11).

Every public name is also importable from `cs231n_lib.metrics` itself.
"""

from cs231n_lib.metrics.detection import (
    AP_METHODS,
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_THRESHOLDS,
    IOU_TYPES,
    DetectionEvaluation,
    PRCurve,
    average_precision,
    coco_map,
    detection_pr,
    evaluate_detections,
    match_detections,
)
from cs231n_lib.metrics.generative import (
    class_coverage,
    frechet_distance,
    frechet_distance_gaussians,
    mean_confidence,
)
from cs231n_lib.metrics.segmentation import (
    ConfusionMatrix,
    confusion_matrix,
    mask_iou,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from cs231n_lib.metrics.text import brevity_penalty, corpus_bleu, exact_match, ngram_counts

__all__ = [
    "AP_METHODS",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "ConfusionMatrix",
    "DetectionEvaluation",
    "IOU_TYPES",
    "PRCurve",
    "average_precision",
    "brevity_penalty",
    "class_coverage",
    "coco_map",
    "confusion_matrix",
    "corpus_bleu",
    "detection_pr",
    "evaluate_detections",
    "exact_match",
    "frechet_distance",
    "frechet_distance_gaussians",
    "mask_iou",
    "match_detections",
    "mean_confidence",
    "mean_iou",
    "ngram_counts",
    "per_class_iou",
    "pixel_accuracy",
]
