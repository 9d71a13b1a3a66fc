"""cs231n_lib.layers.boxes against direct loops (ports of torchvision's kernels, brute-force
NMS), pixel counting, closed forms, numerical gradients and the torch oracles of
cs231n_lib.reference.boxes; the oracles are checked against the same loops here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import boxes as B
from cs231n_lib.reference import boxes as R


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


def random_boxes(rng, n, span=30.0, max_size=12.0, grid=None):
    """n boxes with corners in [0, span) and sizes up to max_size; on a grid if given."""
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(0.5, max_size, (n, 2))
    if grid is not None:
        xy = np.round(xy / grid) * grid
        wh = np.maximum(np.round(wh / grid), 1) * grid
    return np.hstack([xy, xy + wh])


def iou_loop(a, b):
    """IoU of two boxes, one number at a time."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# --- area and IoU -----------------------------------------------------------------------------


def test_box_area_by_hand():
    boxes = np.array([[0, 0, 2, 3], [1.5, 1, 2, 1], [-1, -1, 1, 1]])
    np.testing.assert_array_equal(B.box_area(boxes), [6.0, 0.0, 4.0])


@pytest.mark.parametrize("seed", range(3))
def test_box_iou_matches_a_loop_and_the_oracle(seed):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 9), random_boxes(rng, 7)
    b[0] = a[0]  # identical
    b[1] = a[1] + [1, 1, -1, -1]  # inside (when big enough)
    got = B.box_iou(a, b)
    want = np.array([[iou_loop(p, q) for q in b] for p in a])
    assert got.shape == (9, 7)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(R.box_iou(a, b), want, rtol=1e-12, atol=1e-15)
    assert got[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(B.box_iou(b, a), got.T, rtol=1e-12)


def test_box_iou_counts_pixels_on_integer_boxes():
    # A box with integer corners covers the pixels x1 .. x2 - 1 (area (x2 - x1)(y2 - y1)).
    rng = np.random.default_rng(4)
    corners = rng.integers(0, 16, (12, 2, 2))
    boxes = np.hstack([corners.min(1), corners.max(1) + 1]).astype(float)  # (12, 4)
    masks = np.zeros((12, 17, 17), dtype=bool)
    for m, (x1, y1, x2, y2) in zip(masks, boxes.astype(int), strict=True):
        m[y1:y2, x1:x2] = True
    inter = (masks[:, None] & masks[None]).sum(axis=(2, 3))
    union = (masks[:, None] | masks[None]).sum(axis=(2, 3))
    np.testing.assert_allclose(B.box_iou(boxes, boxes), inter / union, rtol=1e-12)


def test_disjoint_boxes_have_iou_exactly_zero():
    box = np.array([[0.0, 0.0, 2.0, 2.0]])
    others = np.array(
        [
            [3.0, 0.0, 5.0, 2.0],  # apart in x only: an unclipped width is negative
            [0.0, 3.0, 2.0, 5.0],  # apart in y only
            [4.0, 5.0, 6.0, 7.0],  # apart in both: unclipped (-2) * (-3) would be positive
            [2.0, 0.0, 4.0, 2.0],  # touching edges
            [-3.0, -4.0, -1.0, -1.0],
        ]
    )
    np.testing.assert_array_equal(B.box_iou(box, others), np.zeros((1, 5)))
    np.testing.assert_array_equal(B.box_iou(others, box), np.zeros((5, 1)))


def test_empty_unions_give_zero_not_nan():
    points = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 3.0]])  # zero areas
    got = B.box_iou(points, points)
    np.testing.assert_array_equal(got, np.zeros((2, 2)))
    assert B.box_iou(np.zeros((0, 4)), points).shape == (0, 2)


# --- NMS --------------------------------------------------------------------------------------


def nms_loop(boxes, scores, iou_threshold, labels=None):
    """Greedy NMS, one pair at a time: walk by (-score, index), suppress later overlaps."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    suppressed, keep = set(), []
    for pos, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            same = labels is None or labels[i] == labels[j]
            if same and iou_loop(boxes[i], boxes[j]) > iou_threshold:
                suppressed.add(j)
    return np.array(keep, dtype=np.int64)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_nms_matches_a_loop_and_the_oracle(seed, threshold):
    rng = np.random.default_rng(10 + seed)
    boxes = random_boxes(rng, 40, span=20)
    scores = rng.random(40)
    want = nms_loop(boxes, scores, threshold)
    got = B.nms(boxes, scores, threshold)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(R.nms(boxes, scores, threshold), want)


def test_nms_by_hand_keeps_the_best_and_orders_by_score():
    boxes = np.array(
        [
            [0.0, 0.0, 10.0, 10.0],  # box 0
            [1.0, 0.0, 11.0, 10.0],  # IoU 9/11 with box 0
            [20.0, 20.0, 30.0, 30.0],  # far away
        ]
    )
    scores = np.array([0.6, 0.9, 0.7])
    np.testing.assert_array_equal(B.nms(boxes, scores, 0.5), [1, 2])
    np.testing.assert_array_equal(B.nms(boxes, scores, 0.85), [1, 2, 0])


def test_nms_ties_go_to_the_lower_index_and_equal_iou_is_kept():
    boxes = np.array([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0], [2.0, 0.0, 6.0, 4.0]])
    # box 2 has IoU 8 / 24 = 1/3 with boxes 0 and 1; boxes 0 and 1 are identical.
    scores = np.array([0.5, 0.5, 0.9])
    np.testing.assert_array_equal(B.nms(boxes, scores, 0.5), [2, 0])
    square, half = np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([[0.0, 0.0, 4.0, 2.0]])
    pair, pair_scores = np.vstack([square, half]), np.array([1.0, 0.5])  # IoU exactly 0.5
    np.testing.assert_array_equal(B.nms(pair, pair_scores, 0.5), [0, 1])  # not > 0.5: kept
    np.testing.assert_array_equal(B.nms(pair, pair_scores, 0.49), [0])


def test_nms_of_nothing_is_empty():
    keep = B.nms(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert keep.dtype == np.int64 and keep.shape == (0,)
    keep = B.batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int), 0.5)
    assert keep.dtype == np.int64 and keep.shape == (0,)


@pytest.mark.parametrize("seed", range(3))
def test_batched_nms_matches_a_loop_and_the_oracle(seed):
    rng = np.random.default_rng(20 + seed)
    boxes = random_boxes(rng, 50, span=15)
    scores = np.round(rng.random(50), 1)  # many ties
    labels = rng.integers(0, 3, 50)
    want = nms_loop(boxes, scores, 0.4, labels)
    np.testing.assert_array_equal(B.batched_nms(boxes, scores, labels, 0.4), want)
    np.testing.assert_array_equal(R.batched_nms(boxes, scores, labels, 0.4), want)
    same = np.zeros(50, dtype=int)
    np.testing.assert_array_equal(
        B.batched_nms(boxes, scores, same, 0.4), B.nms(boxes, scores, 0.4)
    )


def test_batched_nms_never_suppresses_across_labels():
    boxes = np.array([[0.0, 0.0, 10.0, 10.0]] * 3 + [[0.5, 0.0, 10.0, 10.0]])
    scores = np.array([0.3, 0.9, 0.5, 0.8])
    labels = np.array([2, 0, 1, 0])
    # Box 3 (label 0) overlaps box 1 (label 0, higher score): gone; the others are alone.
    np.testing.assert_array_equal(B.batched_nms(boxes, scores, labels, 0.5), [1, 2, 0])
    np.testing.assert_array_equal(B.nms(boxes, scores, 0.5), [1])


# --- box regression ---------------------------------------------------------------------------


def test_encode_and_decode_by_hand():
    anchor = np.array([[0.0, 0.0, 10.0, 20.0]])  # centre (5, 10), size 10 x 20
    box = np.array([[2.0, 4.0, 12.0, 44.0]])  # centre (7, 24), size 10 x 40
    deltas = B.encode_boxes(box, anchor)
    np.testing.assert_allclose(deltas, [[0.2, 0.7, 0.0, math.log(2.0)]], rtol=1e-12)
    # tw = log 3: three times as wide; ty = -0.5: half a height up.
    decoded = B.decode_boxes(np.array([[0.0, -0.5, math.log(3.0), 0.0]]), anchor)
    np.testing.assert_allclose(decoded, [[-10.0, -10.0, 20.0, 10.0]], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_decode_inverts_encode_and_both_match_the_oracle(seed):
    rng = np.random.default_rng(30 + seed)
    boxes, anchors = random_boxes(rng, 20), random_boxes(rng, 20)
    deltas = B.encode_boxes(boxes, anchors)
    np.testing.assert_allclose(deltas, R.encode_boxes(boxes, anchors), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(B.decode_boxes(deltas, anchors), boxes, rtol=1e-10, atol=1e-10)
    random_deltas = rng.normal(scale=0.7, size=(20, 4))
    np.testing.assert_allclose(
        B.decode_boxes(random_deltas, anchors),
        R.decode_boxes(random_deltas, anchors),
        rtol=1e-10,
        atol=1e-10,
    )


def test_decode_caps_the_log_scale_when_asked():
    anchors = np.array([[0.0, 0.0, 16.0, 16.0]])
    huge = np.array([[0.0, 0.0, 50.0, -1.0]])
    capped = B.decode_boxes(huge, anchors, max_log_scale=B.BBOX_XFORM_CLIP)
    width, height = capped[0, 2] - capped[0, 0], capped[0, 3] - capped[0, 1]
    assert width == pytest.approx(1000.0) and height == pytest.approx(16 * math.exp(-1))
    np.testing.assert_allclose(
        capped, R.decode_boxes(huge, anchors, max_log_scale=B.BBOX_XFORM_CLIP), rtol=1e-12
    )
    assert B.decode_boxes(huge, anchors)[0, 2] > 1e20  # uncapped by default


def test_encode_refuses_boxes_without_area():
    with pytest.raises(ValueError, match="positive widths and heights"):
        B.encode_boxes(np.array([[0.0, 0.0, 0.0, 5.0]]), np.array([[0.0, 0.0, 4.0, 4.0]]))


# --- smooth L1 --------------------------------------------------------------------------------


def test_smooth_l1_by_hand():
    x, y = np.array([0.5, -2.0, 1.0]), np.array([0.0, 0.0, 1.0])
    loss, cache = B.smooth_l1_forward(x, y)  # 0.5 * 0.25 + (2 - 0.5) + 0
    assert loss == pytest.approx(1.625)
    np.testing.assert_allclose(B.smooth_l1_backward(1.0, cache), [0.5, -1.0, 0.0])
    loss, cache = B.smooth_l1_forward(x, y, beta=4.0)  # quadratic everywhere: d^2 / 8
    assert loss == pytest.approx((0.25 + 4.0) / 8)
    np.testing.assert_allclose(B.smooth_l1_backward(2.0, cache), [0.25, -1.0, 0.0])


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 1.0 / 9, 0.0])
def test_smooth_l1_matches_torch(beta):
    rng = np.random.default_rng(40)
    x, y = rng.normal(scale=1.5, size=(16, 4)), rng.normal(size=(16, 4))
    loss, cache = B.smooth_l1_forward(x, y, beta)
    assert isinstance(loss, float)
    assert loss == pytest.approx(R.smooth_l1_forward(x, y, beta), rel=1e-12)
    np.testing.assert_allclose(
        B.smooth_l1_backward(0.7, cache), R.smooth_l1_backward(0.7, x, y, beta), rtol=1e-12
    )


def test_smooth_l1_backward_matches_the_numerical_gradient():
    rng = np.random.default_rng(41)
    x, y = rng.normal(scale=1.5, size=(8, 4)), rng.normal(size=(8, 4))
    _, cache = B.smooth_l1_forward(x, y, 0.8)
    check_gradient(
        lambda x: B.smooth_l1_forward(x, y, 0.8)[0],
        {"x": x},
        {"x": B.smooth_l1_backward(1.0, cache)},
    )


# --- RoI pooling ------------------------------------------------------------------------------


def c_round(value):
    """C's round(): halves away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def roi_pool_loop(x, rois, output_size, spatial_scale):
    """torchvision's roi_pool CPU kernel, loop for loop: (out, argmax)."""
    PH, PW = output_size
    _, C, H, W = x.shape
    out = np.zeros((len(rois), C, PH, PW))
    argmax = np.full((len(rois), C, PH, PW), -1)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (c_round(v * spatial_scale) for v in roi[1:])
        roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        bin_h, bin_w = roi_h / PH, roi_w / PW
        for ph in range(PH):
            for pw in range(PW):
                hs = min(max(math.floor(ph * bin_h) + y1, 0), H)
                he = min(max(math.ceil((ph + 1) * bin_h) + y1, 0), H)
                ws = min(max(math.floor(pw * bin_w) + x1, 0), W)
                we = min(max(math.ceil((pw + 1) * bin_w) + x1, 0), W)
                empty = he <= hs or we <= ws
                for c in range(C):
                    best, where = (0.0 if empty else -np.finfo(np.float32).max), -1
                    for h in range(hs, he):
                        for w in range(ws, we):
                            if x[b, c, h, w] > best:
                                best, where = x[b, c, h, w], h * W + w
                    out[k, c, ph, pw], argmax[k, c, ph, pw] = best, where
    return out, argmax


def pool_rois(rng, n, image=24.0, batch=2):
    """RoIs in image pixels: inside, across the border, outside, tiny and inverted ones."""
    rois = np.hstack([rng.integers(0, batch, (n, 1)), random_boxes(rng, n, image, image / 2)])
    rois[0, 1:] = [-6.0, -5.0, 4.0, 3.0]  # across the top-left corner
    rois[1, 1:] = [image - 3, 2.0, image + 9, 9.0]  # across the right border
    rois[2, 1:] = [image + 10, image + 10, image + 20, image + 30]  # outside
    rois[3, 1:] = [5.0, 5.0, 5.2, 5.3]  # under one cell
    rois[4, 1:] = [9.0, 9.0, 6.0, 4.0]  # inverted
    return rois


@pytest.mark.parametrize("scale, output_size", [(1.0, (2, 2)), (0.5, (3, 4)), (0.25, (2, 3))])
def test_roi_pool_matches_the_kernel_loop_and_the_oracle(scale, output_size):
    rng = np.random.default_rng(50)
    x = rng.normal(size=(2, 3, int(24 * scale), int(24 * scale) + 2))
    rois = pool_rois(rng, 10)
    out, cache = B.roi_pool_forward(x, rois, output_size, scale)
    want, want_argmax = roi_pool_loop(x, rois, output_size, scale)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(cache[2], want_argmax)
    np.testing.assert_array_equal(R.roi_pool_forward(x, rois, output_size, scale), want)


def test_roi_pool_rounds_halves_away_from_zero():
    # 2.5 and 4.5 round to 3 and 5 in C (np.round would give 2 and 4): the RoI is cells 3..5.
    x = np.arange(64.0).reshape(1, 1, 8, 8)
    rois = np.array([[0, 5.0, 5.0, 9.0, 9.0]])  # at scale 0.5: 2.5 .. 4.5
    out, _ = B.roi_pool_forward(x, rois, 1, 0.5)
    assert out[0, 0, 0, 0] == x[0, 0, 5, 5]
    np.testing.assert_array_equal(out, roi_pool_loop(x, rois, (1, 1), 0.5)[0])


def test_roi_pool_spatial_scale_by_hand():
    # x[h, w] = 10 h + w grows to the bottom right: a bin's max is its bottom-right cell.
    x = (10.0 * np.arange(12)[:, None] + np.arange(12)[None, :])[None, None]
    rois = np.array([[0, 4.0, 8.0, 15.0, 23.0]])  # stride 4: cells x 1..4 (3.75), y 2..6
    out, _ = B.roi_pool_forward(x, rois, (1, 2), 0.25)
    # Columns 1..4 split into 1..2 and 3..4; rows 2..6 are one bin.
    np.testing.assert_array_equal(out[0, 0], [[62.0, 64.0]])


def test_roi_pool_ties_go_to_the_first_cell_in_row_major_order():
    x = np.ones((1, 2, 6, 6))
    x[0, 1, 3:, :] = 2.0  # channel 1: the max is the bin's first cell of row 3 on
    rois = np.array([[0, 0.0, 0.0, 5.0, 5.0], [0, 1.0, 2.0, 4.0, 5.0]])
    out, cache = B.roi_pool_forward(x, rois, (2, 2), 1.0)
    want, want_argmax = roi_pool_loop(x, rois, (2, 2), 1.0)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(cache[2], want_argmax)
    dx = B.roi_pool_backward(np.ones_like(out), cache)
    assert dx.sum() == out.size and dx[0, 0, 0, 0] == 1.0 and dx[0, 0, 0, 1] == 0.0


def test_roi_pool_bins_use_exact_integer_edges():
    # 29 rows into 7 bins: (6 + 1) * (29 / 7) is 29.000000000000004 in floating point, so
    # torchvision's float bins give the last bin one row more than ceil(7 * 29 / 7) = 29.
    x = np.zeros((1, 1, 40, 1))
    x[0, 0, 29, 0] = 5.0  # the row just below the RoI
    rois = np.array([[0, 0.0, 0.0, 0.0, 28.0]])  # rows 0..28: 29 rows
    out, _ = B.roi_pool_forward(x, rois, (7, 1), 1.0)
    assert out[0, 0, -1, 0] == 0.0  # exact: row 29 is outside the RoI
    assert roi_pool_loop(x, rois, (7, 1), 1.0)[0][0, 0, -1, 0] == 5.0  # the float kernel
    np.testing.assert_array_equal(R.roi_pool_forward(x, rois, (7, 1), 1.0), out)


def test_roi_pool_backward_matches_the_oracle_and_the_numerical_gradient():
    rng = np.random.default_rng(51)
    x = rng.normal(size=(2, 2, 10, 11))
    rois = pool_rois(rng, 7, image=20.0)
    out, cache = B.roi_pool_forward(x, rois, (3, 2), 0.5)
    dout = rng.normal(size=out.shape)
    dx = B.roi_pool_backward(dout, cache)
    np.testing.assert_allclose(dx, R.roi_pool_backward(dout, x, rois, (3, 2), 0.5), rtol=1e-12)
    check_gradient(
        lambda x: B.roi_pool_forward(x, rois, (3, 2), 0.5)[0], {"x": x}, {"x": dx}, dout=dout
    )


# --- RoI Align --------------------------------------------------------------------------------


def bilinear_loop(feature, y, x):
    """torchvision's bilinear_interpolate for one point of one channel (H, W)."""
    H, W = feature.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= H - 1:
        y_high = y_low = H - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= W - 1:
        x_high = x_low = W - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (
        hy * hx * feature[y_low, x_low]
        + hy * lx * feature[y_low, x_high]
        + ly * hx * feature[y_high, x_low]
        + ly * lx * feature[y_high, x_high]
    )


def roi_align_loop(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """torchvision's roi_align CPU kernel, loop for loop."""
    PH, PW = output_size
    out = np.zeros((len(rois), x.shape[1], PH, PW))
    offset = 0.5 if aligned else 0.0
    for k, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in roi[1:])
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / PH, roi_w / PW
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / PH)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / PW)
        count = max(gh * gw, 1)
        for c in range(x.shape[1]):
            for ph in range(PH):
                for pw in range(PW):
                    total = 0.0
                    for iy in range(gh):
                        yy = y1 + ph * bin_h + (iy + 0.5) * bin_h / gh
                        for ix in range(gw):
                            xx = x1 + pw * bin_w + (ix + 0.5) * bin_w / gw
                            total += bilinear_loop(x[b, c], yy, xx)
                    out[k, c, ph, pw] = total / count
    return out


ALIGN_CASES = [(2, True), (2, False), (1, True), (0, True), (0, False), (3, True)]


@pytest.mark.parametrize("sampling_ratio, aligned", ALIGN_CASES)
def test_roi_align_matches_the_kernel_loop_and_the_oracle(sampling_ratio, aligned):
    rng = np.random.default_rng(60)
    x = rng.normal(size=(2, 2, 12, 13))
    rois = pool_rois(rng, 8)
    args = ((3, 2), 0.5, sampling_ratio, aligned)
    out, _ = B.roi_align_forward(x, rois, *args)
    want = roi_align_loop(x, rois, *args)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(R.roi_align_forward(x, rois, *args), want, rtol=1e-12, atol=1e-13)


def test_roi_align_of_a_linear_map_is_its_value_at_each_bin_centre():
    # Bilinear interpolation is exact on a x + b y + c, and the samples of a bin are
    # symmetric about its centre; feature cell i holds the value at i (aligned: at i + 0.5
    # in image-pixel units).
    H, W, scale = 16, 20, 0.5
    grid_y, grid_x = np.mgrid[0:H, 0:W].astype(float)
    x = (0.3 * grid_x - 0.7 * grid_y + 2.0)[None, None]
    rois = np.array([[0, 4.0, 6.0, 30.0, 22.0], [0, 10.0, 3.0, 17.0, 25.0]])
    out, _ = B.roi_align_forward(x, rois, (4, 3), scale, sampling_ratio=2, aligned=True)
    for k, (_, x1, y1, x2, y2) in enumerate(rois):
        cy = y1 * scale - 0.5 + (np.arange(4) + 0.5) * (y2 - y1) * scale / 4
        cx = x1 * scale - 0.5 + (np.arange(3) + 0.5) * (x2 - x1) * scale / 3
        want = 0.3 * cx[None, :] - 0.7 * cy[:, None] + 2.0
        np.testing.assert_allclose(out[k, 0], want, rtol=1e-12)


def test_roi_align_aligned_is_unaligned_shifted_by_half_a_cell():
    rng = np.random.default_rng(61)
    x = rng.normal(size=(1, 3, 10, 10))
    rois = np.array([[0, 2.0, 3.0, 15.0, 11.0], [0, 6.0, 1.0, 17.0, 18.0]])
    scale = 0.5
    shifted = rois.copy()
    shifted[:, 1:] -= 0.5 / scale  # half a feature cell, in image pixels
    aligned, _ = B.roi_align_forward(x, rois, 3, scale, 2, aligned=True)
    unaligned, _ = B.roi_align_forward(x, shifted, 3, scale, 2, aligned=False)
    np.testing.assert_allclose(aligned, unaligned, rtol=1e-12)
    assert (
        np.abs(aligned - B.roi_align_forward(x, rois, 3, scale, 2, aligned=False)[0]).max() > 0.01
    )


@pytest.mark.parametrize("sampling_ratio, aligned", [(2, True), (0, False)])
def test_roi_align_backward_matches_the_oracle_and_the_numerical_gradient(sampling_ratio, aligned):
    rng = np.random.default_rng(62)
    x = rng.normal(size=(2, 2, 8, 9))
    rois = pool_rois(rng, 6, image=16.0)
    args = ((2, 3), 0.5, sampling_ratio, aligned)
    out, cache = B.roi_align_forward(x, rois, *args)
    dout = rng.normal(size=out.shape)
    dx = B.roi_align_backward(dout, cache)
    want = R.roi_align_backward(dout, x, rois, *args)
    np.testing.assert_allclose(dx, want, rtol=1e-12, atol=1e-13)
    check_gradient(lambda x: B.roi_align_forward(x, rois, *args)[0], {"x": x}, {"x": dx}, dout=dout)


# --- empty input, shapes and bad input --------------------------------------------------------


def test_no_rois_give_empty_outputs_and_zero_gradients():
    x = np.ones((1, 2, 5, 5))
    for forward, backward in (
        (B.roi_pool_forward, B.roi_pool_backward),
        (B.roi_align_forward, B.roi_align_backward),
    ):
        out, cache = forward(x, np.zeros((0, 5)), (2, 2), 1.0)
        assert out.shape == (0, 2, 2, 2)
        np.testing.assert_array_equal(backward(out, cache), np.zeros_like(x))


def test_bad_input_is_refused_clearly():
    x = np.ones((2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        B.box_iou(np.ones((3, 5)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="one per box"):
        B.nms(np.ones((3, 4)), np.ones(2), 0.5)
    with pytest.raises(ValueError, match="batch indices"):
        B.roi_pool_forward(x, np.array([[2, 0.0, 0.0, 1.0, 1.0]]), 2, 1.0)
    with pytest.raises(ValueError, match=r"\(K, 5\)"):
        B.roi_align_forward(x, np.ones((3, 4)), 2, 1.0)
    with pytest.raises(ValueError, match="output_size"):
        B.roi_align_forward(x, np.zeros((1, 5)), 0, 1.0)
    with pytest.raises(ValueError, match="same shape"):
        B.smooth_l1_forward(np.ones(3), np.ones(4))
