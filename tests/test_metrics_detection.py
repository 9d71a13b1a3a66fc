"""cs231n_lib.metrics' detection metrics: COCO mAP against pycocotools' COCOeval (the
independent reference) on generated detections with ties, empty images and classes without
predictions or ground truth; VOC AP against a brute-force evaluation; hand-computed cases."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cs231n_lib import metrics as M

NUM_CLASSES = 4  # class 3 never has ground truth; class 1 (in some scenes) no predictions


def random_scene(
    rng, num_images, grid=None, drop_class=None, empty_every=5, jitter=0.15, wrong=0.15, fps=3
):
    """Ground truth and detections: jittered and duplicated true boxes, false positives,
    wrong labels, scores with ties (one decimal), images without boxes or detections."""
    preds, gts = ([], [], []), ([], [])
    for i in range(num_images):
        G = 0 if i % empty_every == 1 else int(rng.integers(1, 6))
        xy = rng.uniform(0, 60, (G, 2))
        gt_boxes = np.hstack([xy, xy + rng.uniform(4, 30, (G, 2))])
        gt_labels = rng.integers(0, NUM_CLASSES - 1, G)
        boxes, labels = [], []
        for box, label in zip(gt_boxes, gt_labels, strict=True):
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, found twice
                size = box[2:] - box[:2]
                scale = rng.uniform(0.005, jitter)  # IoUs across all thresholds
                boxes.append(box + rng.normal(scale=scale, size=4) * np.tile(size, 2))
                labels.append(label if rng.random() >= wrong else rng.integers(NUM_CLASSES))
        for _ in range(rng.integers(0, fps)):  # false positives, class 3 among them
            xy = rng.uniform(0, 60, 2)
            boxes.append(np.concatenate([xy, xy + rng.uniform(4, 30, 2)]))
            labels.append(rng.integers(NUM_CLASSES))
        boxes = np.array(boxes).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        labels = np.array(labels, dtype=np.int64)
        if i % empty_every == 3:  # an image without detections
            boxes, labels = boxes[:0], labels[:0]
        if drop_class is not None:
            boxes, labels = boxes[labels != drop_class], labels[labels != drop_class]
        if grid is not None:  # dyadic coordinates: IoUs exactly at thresholds can occur
            boxes, gt_boxes = np.round(boxes / grid) * grid, np.round(gt_boxes / grid) * grid
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + grid)
        scores = np.round(rng.random(len(boxes)), 1)
        for store, value in zip(preds, (boxes, scores, labels), strict=True):
            store.append(value)
        gts[0].append(gt_boxes)
        gts[1].append(gt_labels)
    return (*preds, *gts)


def xywh(box):
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def coco_eval(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, max_dets=100):
    """pycocotools' COCOeval (bbox): precision (T, R, K) at area "all", maxDets=max_dets,
    and, for max_dets = 100, its summary stats (AP, AP50, AP75, ...)."""
    annotations = []
    for i, (boxes, labels) in enumerate(zip(gt_boxes, gt_labels, strict=True)):
        for box, label in zip(boxes, labels, strict=True):
            x, y, w, h = xywh(box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(label) + 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    results = [
        {"image_id": i + 1, "category_id": int(label) + 1, "bbox": xywh(box), "score": float(s)}
        for i, (boxes, scores, labels) in enumerate(
            zip(pred_boxes, pred_scores, pred_labels, strict=True)
        )
        for box, s, label in zip(boxes, scores, labels, strict=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {
            "info": {},
            "images": [{"id": i + 1} for i in range(len(gt_boxes))],
            "annotations": annotations,
            "categories": [{"id": c + 1, "name": str(c)} for c in range(NUM_CLASSES)],
        }
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluation.params.maxDets = [1, 10, max_dets]
        evaluation.evaluate()
        evaluation.accumulate()
        stats = None
        if max_dets == 100:
            evaluation.summarize()
            stats = evaluation.stats
    # NOTE: evaluate() sorts params.maxDets, so max_dets is not always at index 2.
    column = evaluation.params.maxDets.index(max_dets)
    return evaluation.eval["precision"][:, :, :, 0, column], stats


def coco_ap_per_class(precision):
    """(K, T) AP from COCOeval's precision (T, R, K); nan where COCOeval has -1."""
    ap = precision.mean(axis=1).T
    return np.where((precision > -1).all(axis=1).T, ap, np.nan)


SCENES = {
    "continuous": dict(num_images=40),
    "dyadic grid": dict(num_images=40, grid=0.5),
    "class 1 never predicted": dict(num_images=30, drop_class=1),
    "many empty images": dict(num_images=30, empty_every=2),
    "a good detector": dict(num_images=30, jitter=0.04, wrong=0.02, fps=2),
}


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("scene", SCENES)
def test_coco_map_matches_pycocotools(scene, seed):
    data = random_scene(np.random.default_rng(seed), **SCENES[scene])
    precision, stats = coco_eval(*data)
    ours = M.evaluate_detections(
        *data, NUM_CLASSES, iou_thresholds=M.COCO_IOU_THRESHOLDS, method="coco"
    )
    want = coco_ap_per_class(precision)
    assert np.isnan(ours.ap[3]).all() and np.isnan(want[3]).all()  # no ground truth: no AP
    np.testing.assert_allclose(ours.ap, want, rtol=0, atol=1e-6)
    coco = M.coco_map(*data, NUM_CLASSES)
    assert abs(coco - stats[0]) <= 1e-6, (coco, stats[0])
    assert abs(ours.map_per_threshold[0] - stats[1]) <= 1e-6  # AP50
    assert abs(ours.map_per_threshold[5] - stats[2]) <= 1e-6  # AP75
    assert 0.05 < coco < 0.95, "the scene should be neither hopeless nor perfect"
    if scene == "class 1 never predicted":
        np.testing.assert_array_equal(ours.ap[1], 0.0)


def test_the_detection_cap_per_image_and_class_matches_pycocotools():
    rng = np.random.default_rng(7)
    data = random_scene(rng, 25)
    # Many detections per image and class: copies of each with lower scores.
    boxes, scores, labels = data[:3]
    for i in range(len(boxes)):
        boxes[i] = np.vstack([boxes[i]] * 3)
        scores[i] = np.concatenate([scores[i], scores[i] * 0.9, scores[i] * 0.8])
        labels[i] = np.concatenate([labels[i]] * 3)
    for cap in (3, 100):
        precision, _ = coco_eval(*data, max_dets=cap)
        ours = M.evaluate_detections(
            *data, NUM_CLASSES, M.COCO_IOU_THRESHOLDS, "coco", max_detections=cap
        )
        np.testing.assert_allclose(ours.ap, coco_ap_per_class(precision), rtol=0, atol=1e-6)
    capped = M.coco_map(*data, NUM_CLASSES, max_detections=3)
    assert capped != pytest.approx(M.coco_map(*data, NUM_CLASSES), abs=1e-3)


# --- VOC AP against brute force ---------------------------------------------------------------


def iou_loop(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def voc_map_loop(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, threshold):
    """Per-class all-point AP, one detection and one box at a time."""
    aps = {}
    for c in range(NUM_CLASSES):
        num_gt = sum(int(np.sum(labels == c)) for labels in gt_labels)
        if num_gt == 0:
            continue
        detections = [
            (-float(s), i, j)
            for i, (scores, labels) in enumerate(zip(pred_scores, pred_labels, strict=True))
            for j, (s, label) in enumerate(zip(scores, labels, strict=True))
            if label == c
        ]
        # By score, then image, then the order within the image (the stable sort's order).
        detections.sort()
        taken = set()
        tp_sum, recall, precision = 0, [], []
        for n, (_, i, j) in enumerate(detections, start=1):
            best, best_iou = None, -1.0
            for g, (box, label) in enumerate(zip(gt_boxes[i], gt_labels[i], strict=True)):
                iou = iou_loop(pred_boxes[i][j], box)
                if label == c and (i, g) not in taken and iou >= threshold and iou >= best_iou:
                    best, best_iou = g, iou
            if best is not None:
                taken.add((i, best))
                tp_sum += 1
            recall.append(tp_sum / num_gt)
            precision.append(tp_sum / n)
        ap, previous = 0.0, 0.0
        for k in range(len(recall)):
            if recall[k] > previous:
                ap += (recall[k] - previous) * max(precision[k:])
                previous = recall[k]
        aps[c] = ap
    return aps


@pytest.mark.parametrize("threshold", [0.5, 0.75])
@pytest.mark.parametrize("scene", ["continuous", "dyadic grid", "class 1 never predicted"])
def test_voc_ap_matches_a_brute_force_evaluation(scene, threshold):
    data = random_scene(np.random.default_rng(3), **SCENES[scene])
    want = voc_map_loop(*data, threshold)
    ours = M.evaluate_detections(*data, NUM_CLASSES, iou_thresholds=(threshold,))
    for c in range(NUM_CLASSES):
        if c in want:
            assert ours.ap[c, 0] == pytest.approx(want[c], abs=1e-12), c
        else:
            assert np.isnan(ours.ap[c, 0])
    assert ours.map == pytest.approx(np.mean(list(want.values())), abs=1e-12)
    assert ours.num_gt[3] == 0 and ours.num_gt.sum() == sum(len(g) for g in data[4])


# --- average precision and matching by hand ---------------------------------------------


def test_average_precision_uses_the_precision_envelope():
    # False, true, true positive with 3 boxes to find: precision 0, 1/2, 2/3 at recall
    # 0, 1/3, 2/3; the envelope is 2/3 everywhere up to recall 2/3.
    recall, precision = np.array([0.0, 1 / 3, 2 / 3]), np.array([0.0, 0.5, 2 / 3])
    assert M.average_precision(recall, precision, "voc") == pytest.approx(4 / 9)
    # 101 points: recall 0, 0.01, ..., 0.66 reach precision 2/3 (67 points), the rest 0.
    assert M.average_precision(recall, precision, "coco") == pytest.approx(67 * (2 / 3) / 101)


@pytest.mark.parametrize("seed", range(4))
def test_average_precision_matches_direct_loops(seed):
    rng = np.random.default_rng(seed)
    hits = rng.random(30) < 0.6
    num_gt = hits.sum() + 3  # some boxes never found
    tp = np.cumsum(hits)
    recall, precision = tp / num_gt, tp / np.arange(1, 31)
    area, previous = 0.0, 0.0
    for k in range(30):
        if recall[k] > previous:
            area += (recall[k] - previous) * precision[k:].max()
            previous = recall[k]
    assert M.average_precision(recall, precision, "voc") == pytest.approx(area, abs=1e-12)
    points = [
        max((p for r, p in zip(recall, precision, strict=True) if r >= t), default=0.0)
        for t in np.linspace(0, 1, 101)
    ]
    assert M.average_precision(recall, precision, "coco") == pytest.approx(np.mean(points))


def test_empty_curves_have_ap_zero():
    for method in M.AP_METHODS:
        assert M.average_precision([], [], method) == 0.0
    data = random_scene(np.random.default_rng(5), 10)
    no_predictions = (
        [b[:0] for b in data[0]],
        [s[:0] for s in data[1]],
        [lab[:0] for lab in data[2]],
    )
    result = M.evaluate_detections(*no_predictions, *data[3:], NUM_CLASSES)
    np.testing.assert_array_equal(result.ap[result.num_gt > 0], 0.0)
    assert result.map == 0.0
    nothing = M.evaluate_detections([np.zeros((0, 4))], [[]], [[]], [np.zeros((0, 4))], [[]], 2)
    assert np.isnan(nothing.map) and np.isnan(nothing.ap).all()


def test_a_second_detection_of_a_box_is_a_false_positive():
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    detections = np.array(
        [
            [0.0, 0.0, 10.0, 9.0],  # box 0 (IoU 0.9)
            [1.0, 0.0, 10.0, 10.0],  # box 0 again (IoU 0.9): box 1 is too far
            [20.0, 0.0, 30.0, 10.0],  # box 1
        ]
    )
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(M.match_detections(detections, scores, gt), [True, False, True])
    np.testing.assert_array_equal(
        M.match_detections(detections[::-1], scores[::-1], gt), [True, False, True]
    )
    result = M.evaluate_detections([detections], [scores], [[0, 0, 0]], [gt], [[0, 0]], 1)
    assert result.ap[0, 0] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)  # precision 1, 1/2, 2/3
    curve = M.detection_pr([detections], [scores], [[0, 0, 0]], [gt], [[0, 0]], class_id=0)
    np.testing.assert_allclose(curve.precision, [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(curve.recall, [0.5, 0.5, 1.0])
    assert curve.num_gt == 2 and list(curve.scores) == [0.9, 0.8, 0.7]


def test_a_taken_box_passes_the_detection_to_the_next_best_free_box():
    # COCOeval's rule: detection 1 overlaps box 0 best, but box 0 is taken and box 1 still
    # overlaps it by IoU >= 0.5, so it matches box 1 (the VOC devkit would count an FP).
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0]])
    detections = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    np.testing.assert_array_equal(M.match_detections(detections, [0.9, 0.8], gt), [True, True])
    precision, _ = coco_eval(
        [detections], [np.array([0.9, 0.8])], [np.array([0, 0])], [gt], [[0, 0]]
    )
    assert precision[0, :, 0].mean() == pytest.approx(1.0)  # pycocotools agrees


def test_bad_input_is_refused_clearly():
    box = [np.array([[0.0, 0.0, 1.0, 1.0]])]
    with pytest.raises(ValueError, match="method"):
        M.average_precision([0.5], [1.0], "area")
    with pytest.raises(ValueError, match="one length"):
        M.average_precision([0.5, 1.0], [1.0], "voc")
    with pytest.raises(ValueError, match=r"integers in 0\.\.1"):
        M.evaluate_detections(box, [[0.5]], [[2]], box, [[0]], 2)
    with pytest.raises(ValueError, match="one entry per image"):
        M.evaluate_detections(box, [[0.5]], [[0]], box * 2, [[0], [0]], 2)
    with pytest.raises(ValueError, match="scores for"):
        M.evaluate_detections(box, [[0.5, 0.1]], [[0]], box, [[0]], 2)
