"""cs231n_lib.metrics' segmentation metrics against scikit-learn (confusion_matrix,
jaccard_score, accuracy_score) and direct loops; mask IoU against pycocotools' mask IoU;
mask AP (evaluate_detections / coco_map with iou_type="segm") against pycocotools' COCOeval
with iouType="segm" on generated instance masks with empty images, classes without
predictions or ground truth, duplicates and empty masks."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import accuracy_score, jaccard_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from cs231n_lib import metrics as M

VOID = 255


def label_maps(rng, shape=(3, 7, 9), num_classes=5, absent=(), void_share=0.0, skill=0.6):
    """Truth and prediction (N, H, W): imbalanced classes (background most common), a
    prediction right with probability `skill`, classes in `absent` in neither map."""
    present = [c for c in range(num_classes) if c not in absent]
    weights = np.array([8.0] + [1.0 + c for c in range(1, len(present))])
    y_true = rng.choice(present, size=shape, p=weights / weights.sum())
    noise = rng.choice(present, size=shape)
    y_pred = np.where(rng.random(shape) < skill, y_true, noise)
    y_true = np.where(rng.random(shape) < void_share, VOID, y_true)
    return y_true, y_pred


def confusion_loop(y_true, y_pred, num_classes, ignore_index=None):
    conf = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true.ravel(), y_pred.ravel(), strict=True):
        if t != ignore_index:
            conf[t, p] += 1
    return conf


# --- confusion matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_sklearn_and_a_loop(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = label_maps(rng)
    conf = M.confusion_matrix(y_true, y_pred, 5)
    assert conf.shape == (5, 5) and conf.dtype == np.int64
    want = sk_confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=range(5))
    np.testing.assert_array_equal(conf, want)
    np.testing.assert_array_equal(conf, confusion_loop(y_true, y_pred, 5))
    assert conf.sum() == y_true.size


def test_confusion_matrix_rows_are_truth_by_hand():
    y_true = np.array([[0, 0, 1], [2, 2, 2]])
    y_pred = np.array([[0, 1, 1], [2, 0, 2]])
    np.testing.assert_array_equal(
        M.confusion_matrix(y_true, y_pred, 3), [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    )


def test_ignored_pixels_are_not_counted_whatever_their_prediction():
    rng = np.random.default_rng(3)
    y_true, y_pred = label_maps(rng, void_share=0.3)
    void = y_true == VOID
    y_pred[void] = 99  # anything: not even a class
    conf = M.confusion_matrix(y_true, y_pred, 5, ignore_index=VOID)
    want = sk_confusion_matrix(y_true[~void], y_pred[~void], labels=range(5))
    np.testing.assert_array_equal(conf, want)
    np.testing.assert_array_equal(conf, confusion_loop(y_true, y_pred, 5, VOID))
    assert conf.sum() == (~void).sum()


def test_the_accumulator_adds_batches_up_to_the_whole_split():
    rng = np.random.default_rng(4)
    y_true, y_pred = label_maps(rng, shape=(8, 6, 5), void_share=0.1)
    whole = M.confusion_matrix(y_true, y_pred, 5, ignore_index=VOID)
    acc = M.ConfusionMatrix(5, ignore_index=VOID)
    for start in range(0, 8, 3):  # batches of 3, 3, 2
        assert acc.update(y_true[start : start + 3], y_pred[start : start + 3]) is acc
    np.testing.assert_array_equal(acc.matrix, whole)
    assert acc.mean_iou() == M.mean_iou(whole)
    assert acc.pixel_accuracy() == M.pixel_accuracy(whole)
    np.testing.assert_array_equal(acc.per_class_iou(), M.per_class_iou(whole))
    # A split's mIoU is not the mean of per-image mIoUs.
    per_image = np.mean(
        [M.mean_iou(M.confusion_matrix(t, p, 5, VOID)) for t, p in zip(y_true, y_pred, strict=True)]
    )
    assert abs(per_image - acc.mean_iou()) > 1e-3
    acc.reset()
    assert acc.matrix.sum() == 0


# --- pixel accuracy, IoU, mIoU ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_scores_match_sklearn(seed):
    rng = np.random.default_rng(10 + seed)
    y_true, y_pred = label_maps(rng, skill=0.5)
    conf = M.confusion_matrix(y_true, y_pred, 5)
    t, p = y_true.ravel(), y_pred.ravel()
    assert M.pixel_accuracy(conf) == pytest.approx(accuracy_score(t, p), abs=1e-12)
    want = jaccard_score(t, p, labels=range(5), average=None)
    np.testing.assert_allclose(M.per_class_iou(conf), want, rtol=1e-12)
    assert M.mean_iou(conf) == pytest.approx(
        jaccard_score(t, p, labels=range(5), average="macro"), abs=1e-12
    )
    # Classes weigh the same: with background 8 times as common as any class, the mean
    # weighted by pixels (frequency-weighted IoU) is another number.
    weighted = jaccard_score(t, p, labels=range(5), average="weighted")
    assert abs(M.mean_iou(conf) - weighted) > 1e-3


def test_a_class_absent_from_truth_and_prediction_has_no_iou():
    rng = np.random.default_rng(20)
    y_true, y_pred = label_maps(rng, absent=(2,))
    conf = M.confusion_matrix(y_true, y_pred, 5)
    iou = M.per_class_iou(conf)
    assert np.isnan(iou[2]) and not np.isnan(np.delete(iou, 2)).any()
    present = [0, 1, 3, 4]
    t, p = y_true.ravel(), y_pred.ravel()
    np.testing.assert_allclose(
        iou[present], jaccard_score(t, p, labels=present, average=None), rtol=1e-12
    )
    # The mean over the 4 classes that have an IoU, not over 5 with a 0 for class 2.
    assert M.mean_iou(conf) == pytest.approx(
        jaccard_score(t, p, labels=present, average="macro"), abs=1e-12
    )
    assert M.mean_iou(conf) == pytest.approx(np.nanmean(iou))
    assert M.mean_iou(conf) > np.nan_to_num(iou).sum() / 5 + 1e-3


def test_iou_by_hand():
    # Class 0: TP 1, FP 1 (the last pixel), FN 1 (the second) -> 1/3; class 1 predicted
    # but never true -> 0; class 2: TP 2, FN 1 -> 2/3; class 3 absent from both -> nan.
    y_true = np.array([0, 0, 2, 2, 2])
    y_pred = np.array([0, 1, 2, 2, 0])
    conf = M.confusion_matrix(y_true, y_pred, 4)
    np.testing.assert_allclose(M.per_class_iou(conf), [1 / 3, 0.0, 2 / 3, np.nan], rtol=1e-12)
    assert M.mean_iou(conf) == pytest.approx(1 / 3)
    assert M.pixel_accuracy(conf) == pytest.approx(3 / 5)
    empty = np.zeros((3, 3), dtype=np.int64)
    assert np.isnan(M.mean_iou(empty)) and np.isnan(M.pixel_accuracy(empty))
    assert np.isnan(M.per_class_iou(empty)).all()


def test_bad_labels_are_refused_clearly():
    with pytest.raises(ValueError, match=r"0\.\.2"):
        M.confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=r"y_pred must lie in 0\.\.2"):
        M.confusion_matrix(np.array([0, 1]), np.array([0, 5]), 3)
    with pytest.raises(ValueError, match="one shape"):
        M.confusion_matrix(np.zeros((2, 2), int), np.zeros(4, int), 3)
    with pytest.raises(ValueError, match="integer"):
        M.confusion_matrix(np.zeros(2), np.zeros(2), 3)
    with pytest.raises(ValueError, match="num_classes"):
        M.ConfusionMatrix(0)
    with pytest.raises(ValueError, match="square"):
        M.mean_iou(np.zeros((2, 3)))


# --- mask IoU ------------------------------------------------------------------------------


def random_masks(rng, n, size=(12, 14), empty_every=None, big=False):
    """n masks: rectangles and disks (3-10 px across when big), some empty."""
    lo, hi, r_lo, r_hi = (3, 11, 2.5, 6.0) if big else (2, 8, 1.5, 5.0)
    H, W = size
    masks = np.zeros((n, H, W), dtype=bool)
    rows, cols = np.mgrid[0:H, 0:W]
    for k in range(n):
        if empty_every and k % empty_every == 0:
            continue
        if rng.random() < 0.5:
            y0, x0 = rng.integers(0, H - 2), rng.integers(0, W - 2)
            masks[k, y0 : y0 + rng.integers(lo, hi), x0 : x0 + rng.integers(lo, hi)] = True
        else:
            cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(r_lo, r_hi)
            masks[k] = (rows - cy) ** 2 + (cols - cx) ** 2 <= r**2
    return masks


def rle(masks):
    """pycocotools' RLEs of masks (n, H, W): Fortran-ordered uint8 (H, W, n)."""
    return mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


def test_mask_iou_matches_a_loop_and_pycocotools():
    rng = np.random.default_rng(30)
    a, b = random_masks(rng, 9, empty_every=4), random_masks(rng, 7, empty_every=5)
    b[1] = a[1]  # identical
    got = M.mask_iou(a, b)
    assert got.shape == (9, 7)
    want = np.zeros((9, 7))
    for i in range(9):
        for j in range(7):
            union = (a[i] | b[j]).sum()
            want[i, j] = (a[i] & b[j]).sum() / union if union else 0.0
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got, mask_utils.iou(rle(a), rle(b), [0] * 7), rtol=1e-12)
    assert got[1, 1] == 1.0 and got[0, 0] == 0.0  # empty against empty: 0, not nan
    np.testing.assert_array_equal(M.mask_iou(a.astype(np.uint8), b), got)


def test_mask_iou_of_no_masks_is_empty_and_bad_masks_are_refused():
    masks = np.ones((2, 4, 4), bool)
    assert M.mask_iou(np.zeros((0, 4, 4), bool), masks).shape == (0, 2)
    assert M.mask_iou(masks, np.zeros((0, 0, 0), bool)).shape == (2, 0)
    with pytest.raises(ValueError, match="one size"):
        M.mask_iou(masks, np.ones((1, 4, 5), bool))
    with pytest.raises(ValueError, match="binary"):
        M.mask_iou(masks * 0.5, masks)
    with pytest.raises(ValueError, match=r"\(M, H, W\)"):
        M.mask_iou(np.ones((4, 4), bool), masks)


# --- mask AP against COCOeval segm ---------------------------------------------------------

NUM_CLASSES = 4  # class 3 never has ground truth; class 1 (in one scene) no predictions
SIZE = (24, 28)


def shift(mask, dy, dx):
    """mask moved by (dy, dx) pixels, what leaves the image is lost."""
    out = np.zeros_like(mask)
    H, W = mask.shape
    out[max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = mask[
        max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)
    ]
    return out


def random_mask_scene(rng, num_images, drop_class=None, empty_every=5):
    """Instance masks and detections: shifted, grown, shrunk and duplicated true masks,
    false positives, wrong labels, empty masks, scores with ties, empty images."""
    preds, gts = ([], [], []), ([], [])
    for i in range(num_images):
        G = 0 if i % empty_every == 1 else int(rng.integers(1, 6))
        gt_masks = random_masks(rng, G, SIZE, big=True)
        gt_masks = gt_masks[gt_masks.any(axis=(1, 2))]  # no empty true instance
        gt_labels = rng.integers(0, NUM_CLASSES - 1, len(gt_masks))
        masks, labels = [], []
        for mask, label in zip(gt_masks, gt_labels, strict=True):
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, found twice
                moved = shift(mask, *rng.choice([-1, 0, 0, 0, 1], 2))
                if rng.random() < 0.3:  # grown or shrunk by a pixel
                    grown = moved | shift(moved, 1, 0) | shift(moved, 0, 1)
                    moved = grown if rng.random() < 0.5 else moved & shift(moved, 1, 1)
                masks.append(moved)
                labels.append(label if rng.random() >= 0.15 else rng.integers(NUM_CLASSES))
        masks.extend(random_masks(rng, int(rng.integers(0, 3)), SIZE))  # false positives
        labels.extend(rng.integers(NUM_CLASSES, size=len(masks) - len(labels)))
        if rng.random() < 0.3:  # an empty predicted mask
            masks.append(np.zeros(SIZE, bool))
            labels.append(rng.integers(NUM_CLASSES - 1))
        masks = np.array(masks, dtype=bool).reshape(-1, *SIZE)
        labels = np.array(labels, dtype=np.int64)
        if i % empty_every == 3:  # an image without detections
            masks, labels = masks[:0], labels[:0]
        if drop_class is not None:
            masks, labels = masks[labels != drop_class], labels[labels != drop_class]
        scores = np.round(rng.random(len(masks)), 1)
        for store, value in zip(preds, (masks, scores, labels), strict=True):
            store.append(value)
        gts[0].append(gt_masks)
        gts[1].append(gt_labels)
    return (*preds, *gts)


def coco_segm_eval(pred_masks, pred_scores, pred_labels, gt_masks, gt_labels, max_dets=100):
    """pycocotools' COCOeval (segm): precision (T, R, K) at area "all", maxDets=max_dets,
    and its summary stats (AP, AP50, AP75, ...)."""
    annotations = []
    for i, (masks, labels) in enumerate(zip(gt_masks, gt_labels, strict=True)):
        for segmentation, mask, label in zip(
            rle(masks) if len(masks) else [], masks, labels, strict=True
        ):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(label) + 1,
                    "segmentation": segmentation,
                    "area": float(mask.sum()),
                    "bbox": list(mask_utils.toBbox(segmentation)),
                    "iscrowd": 0,
                }
            )
    results = [
        {"image_id": i + 1, "category_id": int(label) + 1, "segmentation": seg, "score": float(s)}
        for i, (masks, scores, labels) in enumerate(
            zip(pred_masks, pred_scores, pred_labels, strict=True)
        )
        for seg, s, label in zip(rle(masks) if len(masks) else [], scores, labels, strict=True)
    ]
    H, W = SIZE
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {
            "info": {},
            "images": [{"id": i + 1, "height": H, "width": W} for i in range(len(gt_masks))],
            "annotations": annotations,
            "categories": [{"id": c + 1, "name": str(c)} for c in range(NUM_CLASSES)],
        }
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(results), "segm")
        evaluation.params.maxDets = [1, 10, max_dets]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    column = evaluation.params.maxDets.index(max_dets)
    return evaluation.eval["precision"][:, :, :, 0, column], evaluation.stats


def coco_ap_per_class(precision):
    """(K, T) AP from COCOeval's precision (T, R, K); nan where COCOeval has -1."""
    ap = precision.mean(axis=1).T
    return np.where((precision > -1).all(axis=1).T, ap, np.nan)


MASK_SCENES = {
    "mixed": dict(num_images=30),
    "class 1 never predicted": dict(num_images=25, drop_class=1),
    "many empty images": dict(num_images=25, empty_every=2),
}


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("scene", MASK_SCENES)
def test_mask_ap_matches_pycocotools_segm(scene, seed):
    data = random_mask_scene(np.random.default_rng(seed), **MASK_SCENES[scene])
    precision, stats = coco_segm_eval(*data)
    ours = M.evaluate_detections(
        *data, NUM_CLASSES, M.COCO_IOU_THRESHOLDS, method="coco", iou_type="segm"
    )
    want = coco_ap_per_class(precision)
    assert np.isnan(ours.ap[3]).all() and np.isnan(want[3]).all()  # no ground truth: no AP
    np.testing.assert_allclose(ours.ap, want, rtol=0, atol=1e-6)
    mask_ap = M.coco_map(*data, NUM_CLASSES, iou_type="segm")
    assert abs(mask_ap - stats[0]) <= 1e-6, (mask_ap, stats[0])
    assert abs(ours.map_per_threshold[0] - stats[1]) <= 1e-6  # AP50
    assert abs(ours.map_per_threshold[5] - stats[2]) <= 1e-6  # AP75
    assert 0.05 < mask_ap < 0.95, "the scene should be neither hopeless nor perfect"
    if scene == "class 1 never predicted":
        np.testing.assert_array_equal(ours.ap[1], 0.0)


def test_mask_ap_caps_detections_as_pycocotools():
    data = random_mask_scene(np.random.default_rng(7), 20)
    masks, scores, labels = data[:3]
    for i in range(len(masks)):  # copies of each detection with lower scores
        masks[i] = np.concatenate([masks[i]] * 3)
        scores[i] = np.concatenate([scores[i], scores[i] * 0.9, scores[i] * 0.8])
        labels[i] = np.concatenate([labels[i]] * 3)
    precision, _ = coco_segm_eval(*data, max_dets=3)
    ours = M.evaluate_detections(
        *data, NUM_CLASSES, M.COCO_IOU_THRESHOLDS, "coco", max_detections=3, iou_type="segm"
    )
    np.testing.assert_allclose(ours.ap, coco_ap_per_class(precision), rtol=0, atol=1e-6)


def test_masks_that_fill_their_boxes_score_as_the_boxes():
    # An integer box (x1, y1, x2, y2) covers pixels x1..x2-1, y1..y2-1: its mask IoU is its
    # box IoU, so mask AP is box AP.
    rng = np.random.default_rng(8)
    H, W = SIZE
    preds, gts = ([], [], []), ([], [])
    for _ in range(12):
        corners = np.sort(rng.integers(0, [W, H], (3, 2, 2)), axis=1)  # (box, corner, xy)
        gt = np.hstack([corners[:, 0], corners[:, 1] + 1]).astype(float)  # x2 <= W, y2 <= H
        boxes = np.clip(gt + rng.integers(-2, 3, gt.shape), 0, [W, H, W, H])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        boxes[:, :2] = np.minimum(boxes[:, :2], boxes[:, 2:] - 1)
        gt_labels = rng.integers(0, 2, 3)
        labels = np.where(rng.random(3) < 0.2, 1 - gt_labels, gt_labels)
        for store, value in zip(preds, (boxes, np.round(rng.random(3), 1), labels), strict=True):
            store.append(value)
        gts[0].append(gt)
        gts[1].append(gt_labels)

    def fill(boxes):
        masks = np.zeros((len(boxes), H, W), bool)
        for m, (x1, y1, x2, y2) in zip(masks, boxes.astype(int), strict=True):
            m[y1:y2, x1:x2] = True
        return masks

    box_ap = M.evaluate_detections(*preds, *gts, 2, M.COCO_IOU_THRESHOLDS, "coco")
    as_masks = ([fill(b) for b in preds[0]], *preds[1:], [fill(b) for b in gts[0]], gts[1])
    mask_ap = M.evaluate_detections(*as_masks, 2, M.COCO_IOU_THRESHOLDS, "coco", iou_type="segm")
    np.testing.assert_allclose(mask_ap.ap, box_ap.ap, rtol=1e-12)
    assert 0.05 < box_ap.map < 0.95


def test_mask_ap_refuses_what_is_not_masks():
    masks = [np.ones((1, 4, 4), bool)]
    with pytest.raises(ValueError, match="iou_type"):
        M.evaluate_detections(masks, [[0.5]], [[0]], masks, [[0]], 1, iou_type="mask")
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        M.evaluate_detections([np.ones((4, 4))], [[0.5]], [[0]], masks, [[0]], 1, iou_type="segm")
    curve = M.detection_pr(masks, [[0.5]], [[0]], masks, [[0]], class_id=0, iou_type="segm")
    np.testing.assert_array_equal(curve.precision, [1.0])
