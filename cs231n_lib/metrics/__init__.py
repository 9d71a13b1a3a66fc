"""Scores of a model's output against the truth, one module per kind of output.

- `text`: generated captions against references (corpus BLEU, exact match; 08, 09).
- `detection`: detections against ground-truth boxes (AP, mAP, COCO mAP; 10).

Every public name is also importable from `cs231n_lib.metrics` itself.
"""

from cs231n_lib.metrics.detection import (
    AP_METHODS,
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_THRESHOLDS,
    DetectionEvaluation,
    PRCurve,
    average_precision,
    coco_map,
    detection_pr,
    evaluate_detections,
    match_detections,
)
from cs231n_lib.metrics.text import brevity_penalty, corpus_bleu, exact_match, ngram_counts

__all__ = [
    "AP_METHODS",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "DetectionEvaluation",
    "PRCurve",
    "average_precision",
    "brevity_penalty",
    "coco_map",
    "corpus_bleu",
    "detection_pr",
    "evaluate_detections",
    "exact_match",
    "match_detections",
    "ngram_counts",
]
