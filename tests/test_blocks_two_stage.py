"""cs231n_lib.blocks.two_stage: RPN anchor labels worked out by hand, balanced sampling of
anchors and of proposals (fractions, ground truth added, background label 0), proposals
as decode + clip + NMS + top-k, the RoI head's shapes and RoI Align, the loss terms
against their formulas, decoding of RoI detections, detect()'s output format,
overfitting 4 images, and determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.blocks import two_stage as T
from cs231n_lib.blocks.boxes import box_iou, decode_boxes, encode_boxes, nms, roi_align
from cs231n_lib.data import shapes

TINY = T.TwoStageConfig(
    channels=(8, 8, 8, 8),
    out_channels=8,
    rpn_width=8,
    roi_channels=4,
    fc_width=16,
    roi_batch=16,
    rpn_batch=64,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scenes():
    """8 hard training scenes (96x96), NCHW."""
    return shapes.load(num_train=8, num_val=0, num_test=0, layout="nchw", variant="hard")


def tiny_model(seed=0, config=TINY):
    torch.manual_seed(seed)
    return T.TwoStageDetector(config)


def test_anchor_labels_of_two_objects_by_hand():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    anchors = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # IoU 1 with object 0: object
            [0.0, 0.0, 10.0, 12.0],  # IoU 100/120 = 0.83 >= 0.7: object
            [0.0, 0.0, 10.0, 20.0],  # IoU 0.5, between 0.3 and 0.7: ignored
            [20.0, 20.0, 26.0, 26.0],  # IoU 0.36 with object 1, but its best anchor: object
            [20.0, 20.0, 24.0, 24.0],  # IoU 0.16: background
            [50.0, 50.0, 60.0, 60.0],  # IoU 0: background
            [0.0, 0.0, 40.0, 40.0],  # IoU 1/16 with both: background
        ]
    )
    labels, matched = T.label_anchors(anchors, gt)
    assert labels.tolist() == [1, 1, -1, 1, 0, 0, 0]
    torch.testing.assert_close(matched[[0, 1, 3]], gt[[0, 0, 1]])
    assert (matched[[2, 4, 5, 6]] == 0).all()
    labels, _ = T.label_anchors(anchors, gt[:0])
    assert labels.tolist() == [0] * 7  # an empty image: every anchor is background


def test_sample_balanced_takes_up_to_the_fraction_of_positives():
    g = torch.Generator().manual_seed(0)
    labels = torch.full((2000,), 0)
    labels[:10] = 1
    labels[10:500] = -1
    pos, neg = T.sample_balanced(labels, 256, 0.5, g)
    assert len(pos) == 10 and len(neg) == 246  # few positives: negatives fill the batch
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    labels[:400] = 1
    pos, neg = T.sample_balanced(labels, 256, 0.5, g)
    assert len(pos) == 128 and len(neg) == 128 and len(set(pos.tolist())) == 128
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    a = T.sample_balanced(labels, 256, 0.5, torch.Generator().manual_seed(3))
    b = T.sample_balanced(labels, 256, 0.5, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_proposal_sampling_fractions_labels_and_targets():
    g = torch.Generator().manual_seed(0)
    gt = torch.tensor([[10.0, 10.0, 30.0, 30.0], [60.0, 60.0, 80.0, 80.0]])
    gt_labels = torch.tensor([2, 0])
    shifts = torch.arange(40, dtype=torch.float32)[:, None] % 3  # IoU >= 0.68 with gt 0
    near = gt[0] + shifts
    far = torch.tensor([[40.0, 0.0, 50.0, 10.0]]).repeat(100, 1) + torch.rand(100, 1)
    rois, labels, targets = T.sample_proposals(
        torch.cat([near, far]), gt, gt_labels, 64, 0.25, 0.5, g
    )
    assert rois.shape == (64, 4) and labels.shape == (64,) and targets.shape == (64, 4)
    assert (labels > 0).sum() == 16  # 25 % foreground, the rest background
    # class c has label c + 1 (gt 1 of class 0 is one of 42 foreground candidates)
    assert {0, 3} <= set(labels.tolist()) <= {0, 1, 3}
    fg = labels > 0
    iou = box_iou(rois, gt).max(dim=1).values
    assert (iou[fg] >= 0.5).all() and (iou[~fg] < 0.5).all()
    torch.testing.assert_close(targets[labels == 3], gt[0].expand(int((labels == 3).sum()), 4))
    torch.testing.assert_close(targets[~fg], rois[~fg])
    # Proposals far from every object: the ground-truth boxes are the only foreground.
    rois, labels, targets = T.sample_proposals(far, gt, gt_labels, 64, 0.25, 0.5, g)
    assert sorted(labels.tolist())[-2:] == [1, 3] and (labels > 0).sum() == 2
    torch.testing.assert_close(rois[labels > 0], targets[labels > 0])
    assert len(rois) == 64
    # An empty image: all background, and fewer RoIs than asked when there are few.
    rois, labels, _ = T.sample_proposals(far[:5], gt[:0], gt_labels[:0], 64, 0.25, 0.5, g)
    assert len(rois) == 5 and (labels == 0).all()


def test_proposals_decode_clip_drop_tiny_boxes_nms_and_top_k():
    anchors = torch.tensor(
        [
            [0.0, 0.0, 20.0, 20.0],
            [1.0, 1.0, 21.0, 21.0],  # IoU 0.82 with anchor 0
            [-10.0, 40.0, 10.0, 60.0],  # clipped to x1 = 0
            [50.0, 50.0, 51.0, 51.0],  # 1 px: dropped
            [60.0, 0.0, 80.0, 20.0],
        ]
    )
    objectness = torch.tensor([[3.0, 4.0, 2.0, 9.0, 1.0]])
    deltas = torch.zeros(1, 5, 4)
    deltas[0, 4] = torch.tensor([0.1, 0.0, 0.0, 0.0])  # shifted right by 2 px
    ((boxes, scores),) = T.make_proposals(objectness, deltas, anchors, 64, 5, 3, 0.7, 2.0)
    expected = torch.tensor([[1.0, 1.0, 21.0, 21.0], [0.0, 40.0, 10.0, 60.0], [62, 0, 64, 20]])
    torch.testing.assert_close(boxes, expected)
    torch.testing.assert_close(scores, torch.tensor([4.0, 2.0, 1.0]))
    ((boxes, _),) = T.make_proposals(objectness, deltas, anchors, 64, 2, 10, 0.7, 2.0)
    assert len(boxes) == 1  # pre_nms 2: anchors 3 (tiny) and 1; 0 is not a candidate


def test_proposals_match_a_direct_computation_on_a_model(scenes):
    model = tiny_model()
    out = model(torch.as_tensor(scenes["X_train"][:2]))
    proposals = T.make_proposals(out.objectness, out.deltas, model.anchors, 96, 300, 50)
    for n, (boxes, scores) in enumerate(proposals):
        assert 0 < len(boxes) <= 50 and (torch.diff(scores) <= 0).all()
        assert (boxes >= 0).all() and (boxes <= 96).all()
        iou = box_iou(boxes, boxes) - torch.eye(len(boxes))
        assert (iou <= 0.7 + 1e-6).all()
        top = out.objectness[n].topk(300).indices
        direct = decode_boxes(out.deltas[n, top], model.anchors[top]).clamp(0, 96)
        keep = nms(direct, out.objectness[n, top], 0.7)[:50]
        torch.testing.assert_close(boxes, direct[keep].detach())


def test_batched_nms_matches_boxes_nms_image_by_image():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(4, 60, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 4 + torch.rand(4, 60, 2, generator=g) * 20], dim=2)
    valid = torch.rand(4, 60, generator=g) > 0.2
    for threshold in (0.3, 0.7):
        kept = T._batched_greedy_nms(boxes, valid, threshold)  # boxes in score order
        for n in range(4):
            index = torch.nonzero(valid[n])[:, 0]
            scores = -torch.arange(len(index), dtype=torch.float32)
            expected = index[nms(boxes[n, index], scores, threshold)]
            assert torch.nonzero(kept[n])[:, 0].tolist() == expected.tolist()


def test_roi_head_shapes_and_roi_align_of_the_proposals():
    model = tiny_model()
    features = torch.rand(3, 8, 24, 24)
    proposals = [torch.tensor([[0.0, 0, 10, 10], [5, 5, 40, 30], [50, 50, 90, 96]])]
    proposals += [torch.zeros(0, 4), torch.tensor([[1.0, 2, 3, 4]] * 5)]
    class_logits, deltas = model.roi_forward(features, proposals)
    assert class_logits.shape == (8, 6) and deltas.shape == (8, 20)
    pooled = T.roi_features(features, proposals, 7, 0.25)
    rois = torch.tensor([[0, 0.0, 0, 10, 10], [0, 5, 5, 40, 30], [0, 50, 50, 90, 96]])
    rois = torch.cat([rois, torch.tensor([[2, 1.0, 2, 3, 4]] * 5)])
    torch.testing.assert_close(pooled, roi_align(features, rois, 7, 0.25, 2))
    agnostic = T.RoIHead(8, 5, 7, 4, 16, class_agnostic=True)
    pooled = T.roi_features(agnostic.reduce(features), proposals, 7, 0.25)
    assert pooled.shape == (8, 4, 7, 7)
    assert [t.shape for t in agnostic(pooled)] == [(8, 6), (8, 4)]
    out = model(torch.rand(2, 3, 96, 96))
    assert out.features.shape == (2, 8, 24, 24)
    assert out.objectness.shape == (2, 24 * 24 * 4) and out.deltas.shape == (2, 24 * 24 * 4, 4)
    assert model.anchors.shape == (24 * 24 * 4, 4)


def test_roi_loss_follows_its_formula():
    torch.manual_seed(0)
    rois = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40], [5, 5, 15, 15]])
    targets = torch.tensor([[1.0, 0, 11, 12], [20, 20, 40, 40], [4, 6, 16, 14]])
    labels = torch.tensor([2, 0, 5])  # classes 1 and 4, one background
    logits = torch.randn(3, 6)
    goal = encode_boxes(targets, rois) * torch.tensor(T.ROI_BOX_WEIGHTS)
    deltas = torch.randn(3, 5, 4)
    deltas[0, 1], deltas[2, 4] = goal[0], goal[2]  # the own class's columns are perfect
    cls, reg = T.roi_loss(logits, deltas.reshape(3, 20), rois, labels, targets)
    torch.testing.assert_close(cls, F.cross_entropy(logits, labels))
    assert float(reg) == 0.0
    deltas[2, 4] += torch.tensor([0.0, 1.0, 0.0, 0.0])  # 1 off (> beta): |x| - beta / 2
    _, reg = T.roi_loss(logits, deltas.reshape(3, 20), rois, labels, targets)
    torch.testing.assert_close(reg, torch.tensor((1 - 0.5 / 9) / 3))


def test_rpn_loss_samples_per_image_and_is_zero_for_perfect_deltas():
    model = tiny_model()
    gt = [torch.tensor([[10.0, 10.0, 30.0, 34.0]]), torch.zeros(0, 4)]
    labels, matched = T.label_anchors(model.anchors, gt[0])
    A = len(model.anchors)
    deltas = torch.zeros(2, A, 4)
    pos = labels == 1
    deltas[0, pos] = encode_boxes(matched[pos], model.anchors[pos])
    objectness = torch.where(labels == 1, 20.0, -20.0)[None].repeat(2, 1)
    objectness[1] = -20.0
    out = T.RPNOutputs(torch.zeros(2, 8, 24, 24), objectness, deltas)
    g = torch.Generator().manual_seed(0)
    cls, reg = T.rpn_loss(out, model.anchors, gt, TINY, g)
    assert float(reg) == 0.0 and float(cls) < 1e-6
    deltas[0, pos] += 1.0  # every delta 1 off: (1 - beta / 2) 4 per object anchor
    cls, reg = T.rpn_loss(out, model.anchors, gt, TINY, g)
    expected = 4 * int(pos.sum()) * (1 - 0.5 / 9) / (2 * TINY.rpn_batch)
    torch.testing.assert_close(reg, torch.tensor(expected))


def test_decoding_scores_classes_and_boxes_per_roi():
    proposals = torch.tensor([[10.0, 10.0, 30.0, 30.0], [50.0, 50.0, 70.0, 70.0]])
    target = torch.tensor([[12.0, 9.0, 33.0, 30.0]])
    logits = torch.zeros(2, 4)  # 3 classes and background
    logits[0, 2] = 12.0  # RoI 0: class 1
    logits[1, 0] = 12.0  # RoI 1: background
    deltas = torch.zeros(2, 3, 4)
    deltas[0, 1] = encode_boxes(target, proposals[:1])[0] * torch.tensor(T.ROI_BOX_WEIGHTS)
    boxes, scores, labels = T.decode_roi_detections(logits, deltas.reshape(2, 12), proposals, 96)
    assert labels.tolist() == [1]
    torch.testing.assert_close(boxes, target)
    torch.testing.assert_close(scores, logits.softmax(1)[0, 2:3])
    boxes, scores, labels = T.decode_roi_detections(logits, deltas.reshape(2, 12), proposals, 96, 0)
    assert len(boxes) == 6 and (torch.diff(scores) <= 0).all()  # 2 RoIs x 3 classes


def test_detect_returns_per_image_arrays_in_the_metrics_format(scenes):
    model = tiny_model()
    model.train()
    images = scenes["X_train"][:5].transpose(0, 2, 3, 1)  # NHWC works too
    boxes, scores, labels = T.detect(model, images, 0.001, 0.3, 7, batch_size=2)
    assert len(boxes) == len(scores) == len(labels) == 5
    assert any(len(b) for b in boxes)
    for b, s, y in zip(boxes, scores, labels, strict=True):
        assert b.dtype == np.float32 and s.dtype == np.float32 and y.dtype == np.int64
        assert b.shape == (len(s), 4) and y.shape == (len(s),) and len(s) <= 7
        assert (s >= 0.001).all() and (np.diff(s) <= 0).all()
        assert (b >= 0).all() and (b <= 96).all() and ((y >= 0) & (y < 5)).all()
        iou = box_iou(torch.as_tensor(b), torch.as_tensor(b)).numpy()
        same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
        assert (iou[same] <= 0.3 + 1e-6).all()  # class-aware NMS ran
    again = T.detect(model, torch.as_tensor(scenes["X_train"][:5]), 0.001, 0.3, 7)
    for a, b in zip(boxes, again[0], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert model.training  # detect() ran in eval mode and gave the mode back


def test_it_overfits_four_images(scenes):
    config = T.TwoStageConfig(
        channels=(16, 16, 32, 32), out_channels=32, rpn_width=32, roi_channels=16, fc_width=64
    )
    model = tiny_model(config=config)
    X, B, Y = scenes["X_train"][:4], scenes["boxes_train"][:4], scenes["labels_train"][:4]
    history = T.train_two_stage(
        model,
        X,
        B,
        Y,
        num_steps=100,
        batch_size=4,
        augment=False,
        learning_rate=1e-2,
        warmup_steps=10,
        progress=False,
        bf16=False,
    )
    loss = history["loss"]
    assert history["steps"] == len(loss) == 100 and history["images_seen"] == 400
    for key in ("objectness", "classification", "box", "rpn_box", "roi_box"):
        assert len(history[key]) == 100
    terms = ("rpn_objectness", "rpn_box", "roi_classification", "roi_box")
    np.testing.assert_allclose(loss, np.sum([history[k] for k in terms], axis=0), rtol=1e-5)
    assert np.mean(loss[-10:]) < 0.3 * np.mean(loss[:5])
    from cs231n_lib.metrics import evaluate_detections

    boxes, scores, labels = T.detect(model, X)
    assert evaluate_detections(boxes, scores, labels, B, Y, 5).map > 0.5


@pytest.mark.parametrize("bf16", [False, True])
def test_training_is_deterministic_by_seed(scenes, bf16):
    def run(seed):
        model = tiny_model()
        history = T.train_two_stage(
            model,
            scenes["X_train"],
            scenes["boxes_train"],
            scenes["labels_train"],
            num_steps=3,
            batch_size=4,
            seed=seed,
            progress=False,
            bf16=bf16,
        )
        assert history["bf16"] is bf16 and history["steps"] == 3
        return history["loss"], torch.cat([p.detach().flatten() for p in model.parameters()])

    loss_a, params_a = run(0)
    loss_b, params_b = run(0)
    loss_c, _ = run(1)
    assert loss_a == loss_b
    torch.testing.assert_close(params_a, params_b, rtol=0, atol=0)
    assert loss_a != loss_c


def test_bad_arguments_are_refused(scenes):
    model = tiny_model()
    args = (scenes["X_train"][:2], scenes["boxes_train"][:2], scenes["labels_train"][:2])
    with pytest.raises(ValueError, match="num_steps, seconds"):
        T.train_two_stage(model, *args)
    with pytest.raises(ValueError, match="num_steps"):
        T.train_two_stage(model, *args, num_steps=0)
    with pytest.raises(ValueError, match="box lists"):
        T.train_two_stage(model, args[0], args[1][:1], args[2], num_steps=1)
    with pytest.raises(ValueError, match="images must be"):
        model(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="multiple of 16"):
        T.TwoStageDetector(T.TwoStageConfig(image_size=90))
