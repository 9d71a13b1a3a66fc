"""cs231n_lib.blocks.boxes: the torch box operations, RoI Align and anchors against the numpy
layers (checked against loops in test_layers_boxes.py), direct loops and autograd checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from cs231n_lib.blocks import boxes as TB
from cs231n_lib.layers import boxes as B

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_boxes(rng, n, span=30.0, max_size=12.0):
    xy = rng.uniform(0, span, (n, 2))
    return np.hstack([xy, xy + rng.uniform(0.5, max_size, (n, 2))])


def tensor(a, device="cpu", dtype=torch.float64):
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def nms_loop(boxes, scores, iou_threshold, labels=None):
    """Greedy NMS over pairs, walking by (-score, index)."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        rivals = [j for j in keep if labels is None or labels[j] == labels[i]]
        if all(B.box_iou(boxes[[i]], boxes[[j]])[0, 0] <= iou_threshold for j in rivals):
            keep.append(i)
    return keep


@pytest.mark.parametrize("device", DEVICES)
def test_box_iou_and_area_match_numpy(device):
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 8), random_boxes(rng, 6)
    b[:2] = [[100, 100, 101, 101], [3, 3, 3, 3]]  # disjoint, zero area
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        got = TB.box_iou(tensor(a, device, dtype), tensor(b, device, dtype))
        assert got.device.type == device and got.dtype == dtype
        np.testing.assert_allclose(got.cpu().numpy(), B.box_iou(a, b), rtol=tol, atol=tol)
    area = TB.box_area(tensor(a, device)).cpu().numpy()
    np.testing.assert_allclose(area, B.box_area(a), rtol=1e-12)


def test_box_iou_is_differentiable():
    rng = np.random.default_rng(1)
    a = random_boxes(rng, 4, span=5)
    b = a + rng.uniform(-1, 1, a.shape)  # overlapping pairs
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.5)
    a_t = tensor(a).requires_grad_(True)
    b_t = tensor(b).requires_grad_(True)
    assert torch.autograd.gradcheck(TB.box_iou, (a_t, b_t))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", range(3))
def test_nms_and_batched_nms_match_numpy_and_a_loop(seed, device):
    rng = np.random.default_rng(10 + seed)
    boxes = random_boxes(rng, 60, span=20)
    scores = np.round(rng.random(60), 1)  # ties
    labels = rng.integers(0, 4, 60)
    for threshold in (0.0, 0.3, 0.6, 1.0):
        keep = TB.nms(tensor(boxes, device), tensor(scores, device), threshold)
        assert keep.dtype == torch.int64 and keep.device.type == device
        np.testing.assert_array_equal(keep.cpu().numpy(), B.nms(boxes, scores, threshold))
        keep = TB.batched_nms(
            tensor(boxes, device), tensor(scores, device), torch.as_tensor(labels), threshold
        )
        want = B.batched_nms(boxes, scores, labels, threshold)
        np.testing.assert_array_equal(keep.cpu().numpy(), want)
    np.testing.assert_array_equal(
        TB.nms(tensor(boxes), tensor(scores), 0.5).numpy(), nms_loop(boxes, scores, 0.5)
    )
    np.testing.assert_array_equal(
        TB.batched_nms(tensor(boxes), tensor(scores), torch.as_tensor(labels), 0.5).numpy(),
        nms_loop(boxes, scores, 0.5, labels),
    )


def test_nms_of_nothing_and_float32_scores():
    empty = torch.zeros((0, 4))
    assert TB.nms(empty, torch.zeros(0), 0.5).shape == (0,)
    assert TB.batched_nms(empty, torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).shape == (
        0,
    )
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [0.0, 0.0, 1.0, 1.0]])
    scores = torch.tensor([0.5, 0.9, 0.5])
    assert TB.nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert TB.batched_nms(boxes, scores, torch.tensor([1, 0, 1]), 0.5).tolist() == [1, 0, 2]


@pytest.mark.parametrize("device", DEVICES)
def test_encode_decode_match_numpy(device):
    rng = np.random.default_rng(2)
    boxes, anchors = random_boxes(rng, 30), random_boxes(rng, 30)
    deltas = TB.encode_boxes(tensor(boxes, device), tensor(anchors, device))
    np.testing.assert_allclose(deltas.cpu().numpy(), B.encode_boxes(boxes, anchors), rtol=1e-10)
    decoded = TB.decode_boxes(deltas, tensor(anchors, device)).cpu().numpy()
    np.testing.assert_allclose(decoded, boxes, rtol=1e-10)
    big = rng.normal(scale=3.0, size=(30, 4))
    for cap in (None, TB.BBOX_XFORM_CLIP, 0.5):
        got = TB.decode_boxes(tensor(big, device), tensor(anchors, device), cap).cpu().numpy()
        np.testing.assert_allclose(got, B.decode_boxes(big, anchors, cap), rtol=1e-10)
    assert TB.BBOX_XFORM_CLIP == B.BBOX_XFORM_CLIP == pytest.approx(math.log(62.5))


def pool_rois(rng, n, image=24.0, batch=2):
    rois = np.hstack([rng.integers(0, batch, (n, 1)), random_boxes(rng, n, image, image / 2)])
    rois[0, 1:] = [-6.0, -5.0, 4.0, 3.0]
    rois[1, 1:] = [image - 3, 2.0, image + 9, 9.0]
    rois[2, 1:] = [image + 10, image + 10, image + 20, image + 30]
    rois[3, 1:] = [5.0, 5.0, 5.2, 5.3]
    rois[4, 1:] = [9.0, 9.0, 6.0, 4.0]
    return rois


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sampling_ratio, aligned", [(2, True), (2, False), (1, True), (0, True)])
def test_roi_align_forward_and_backward_match_numpy(sampling_ratio, aligned, device):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 12, 13))
    rois = pool_rois(rng, 9)
    args = ((3, 2), 0.5, sampling_ratio, aligned)
    want, cache = B.roi_align_forward(x, rois, *args)
    dout = rng.normal(size=want.shape)
    x_t = tensor(x, device).requires_grad_(True)
    out = TB.roi_align(x_t, tensor(rois, device), *args)
    (out * tensor(dout, device)).sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        x_t.grad.cpu().numpy(), B.roi_align_backward(dout, cache), rtol=1e-12, atol=1e-13
    )
    out32 = TB.roi_align(tensor(x, device, torch.float32), tensor(rois, device), *args)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.cpu().numpy(), want, rtol=1e-4, atol=1e-5)


def test_roi_align_passes_torch_gradcheck_and_leaves_rois_alone():
    rng = np.random.default_rng(4)
    x = tensor(rng.normal(size=(1, 2, 6, 7))).requires_grad_(True)
    rois = tensor([[0, 1.0, 2.0, 9.0, 11.0], [0, -2.0, 0.0, 5.0, 4.0]]).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: TB.roi_align(x, rois, 2, 0.5), (x,))
    TB.roi_align(x, rois, 2, 0.5).sum().backward()
    assert rois.grad is None  # RoIs are constants, as in torchvision
    x.grad = None
    empty = TB.roi_align(x, rois[:0], (2, 3), 0.5)
    assert empty.shape == (0, 2, 2, 3)
    empty.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_make_anchors_match_a_loop():
    sizes, ratios, stride = (8.0, 16.0), (0.5, 1.0, 2.0), 4
    anchors = TB.make_anchors((3, 5), stride, sizes, ratios)
    assert anchors.shape == (3 * 5 * 6, 4) and anchors.dtype == torch.float32
    want = []
    for i, j in itertools.product(range(3), range(5)):
        cx, cy = (j + 0.5) * stride, (i + 0.5) * stride
        for size, ratio in itertools.product(sizes, ratios):
            w, h = size / math.sqrt(ratio), size * math.sqrt(ratio)
            want.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    np.testing.assert_allclose(anchors.numpy(), want, rtol=1e-6)
    w, h = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    np.testing.assert_allclose((w * h)[:6].numpy(), [64.0] * 3 + [256.0] * 3, rtol=1e-6)
    np.testing.assert_allclose((h / w)[:3].numpy(), ratios, rtol=1e-6)
    square = TB.make_anchors(2, (8, 4), [4.0], dtype=torch.float64)
    np.testing.assert_allclose(
        square.numpy(), [[0, 2, 4, 6], [4, 2, 8, 6], [0, 10, 4, 14], [4, 10, 8, 14]]
    )


def test_anchors_line_up_with_a_head_output():
    # A head's (N, A * 4, H, W) output, permuted to (N, H, W, A, 4), matches anchor rows.
    H, W, A = 2, 3, 2
    anchors = TB.make_anchors((H, W), 8, [8.0, 16.0])
    head = torch.arange(A * 4 * H * W, dtype=torch.float32).reshape(1, A * 4, H, W)
    rows = head.permute(0, 2, 3, 1).reshape(1, -1, 4)[0]  # (H W A, 4)
    # Row r of rows comes from cell (i, j) = divmod(r // A, W), anchor r % A.
    for r in range(H * W * A):
        i, j = divmod(r // A, W)
        a = r % A
        assert rows[r, 0] == head[0, a * 4, i, j]
        centre = (anchors[r, :2] + anchors[r, 2:]) / 2
        assert centre.tolist() == [(j + 0.5) * 8, (i + 0.5) * 8]


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        TB.box_iou(torch.ones(3, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\(K, 5\)"):
        TB.roi_align(torch.ones(1, 1, 4, 4), torch.ones(2, 4), 2)
    with pytest.raises(ValueError, match="sizes and ratios must be positive"):
        TB.make_anchors(4, 8, [0.0])
    with pytest.raises(ValueError, match="feature_size"):
        TB.make_anchors(0, 8, [8.0])
