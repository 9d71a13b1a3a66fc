"""Tests of cs231n_lib.blocks.instances: mask targets, paste-back, prompts, the two models."""

import numpy as np
import pytest
import torch

from cs231n_lib.blocks import instances as inst

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scenes(n: int = 4):
    """n small synthetic scenes (32x32): two touching squares of classes 0 and 1."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 0.2, size=(n, 3, 32, 32)).astype(np.float32)
    instances = np.zeros((n, 32, 32), dtype=np.uint8)
    boxes, labels = [], []
    for i in range(n):
        a, b = 4 + i, 12 + i
        instances[i, a : a + 8, a : a + 8] = 1
        instances[i, a : a + 8, b : b + 6] = 2
        X[i, 0][instances[i] == 1] = 0.9
        X[i, 1][instances[i] == 2] = 0.9
        boxes.append(np.array([[a, a, a + 8, a + 8], [b, a, b + 6, a + 8]], np.float32))
        labels.append(np.array([0, 1]))
    return X, boxes, labels, instances


def test_mask_targets_by_hand():
    # A box that covers its mask's pixels exactly: the target is the mask, resized.
    masks = torch.zeros((2, 16, 16))
    masks[0, 4:12, 2:6] = 1  # the whole box is object
    masks[1, 0:8, 0:8] = 1
    masks[1, 0:8, 4:8] = 0  # left half of the box
    boxes = torch.tensor([[2.0, 4.0, 6.0, 12.0], [0.0, 0.0, 8.0, 8.0]])
    out = inst.mask_targets(masks, boxes, 4)
    assert out.shape == (2, 4, 4)
    assert torch.equal(out[0], torch.ones(4, 4))
    expected = torch.zeros(4, 4)
    expected[:, :2] = 1
    assert torch.equal(out[1], expected)


def test_mask_targets_match_a_loop_over_bins():
    # Target bin (p, q) = mean of the mask over the bin's 2x2 bilinear samples, >= 0.5.
    rng = np.random.default_rng(1)
    masks = torch.as_tensor(rng.random((1, 20, 20)) < 0.5).float()
    box = np.array([3.3, 5.1, 17.9, 13.6])
    size = 7
    out = inst.mask_targets(masks, torch.as_tensor(box)[None], size)[0].numpy()
    m = masks[0].numpy()

    def bilinear(y, x):
        y, x = min(max(y, 0.0), 19.0), min(max(x, 0.0), 19.0)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        y1, x1 = min(y0 + 1, 19), min(x0 + 1, 19)
        fy, fx = y - y0, x - x0
        return (
            (1 - fy) * (1 - fx) * m[y0, x0]
            + (1 - fy) * fx * m[y0, x1]
            + fy * (1 - fx) * m[y1, x0]
            + fy * fx * m[y1, x1]
        )

    x1, y1, x2, y2 = box - 0.5
    bw, bh = (x2 - x1) / size, (y2 - y1) / size
    for p in range(size):
        for q in range(size):
            samples = [
                bilinear(y1 + (p + (a + 0.5) / 2) * bh, x1 + (q + (b + 0.5) / 2) * bw)
                for a in range(2)
                for b in range(2)
            ]
            assert out[p, q] == float(np.mean(samples) >= 0.5), (p, q)


def test_paste_masks_by_hand():
    # A 2x2 mask [[1, 0], [0, 1]] on the box (2, 2)-(6, 6) of an 8x8 image: each mask cell
    # becomes a 2x2 block; bilinear reading between them gives 0.75 / 0.25 at the seams.
    probs = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    out = inst.paste_masks(probs, torch.tensor([[2.0, 2.0, 6.0, 6.0]]), (8, 8))
    assert out.shape == (1, 8, 8) and out.dtype == torch.bool
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:4, 2:4] = True
    expected[4:6, 4:6] = True
    np.testing.assert_array_equal(out[0].numpy(), expected)
    # A uniform mask fills exactly the pixels whose centres lie in the box.
    full = inst.paste_masks(torch.ones((1, 3, 3)), torch.tensor([[1.2, 0.4, 4.6, 3.5]]), (6, 6))
    expected = np.zeros((6, 6), dtype=bool)
    expected[0:3, 1:5] = True  # centres 0.5..2.5 in [0.4, 3.5); 1.5..4.5 in [1.2, 4.6)
    np.testing.assert_array_equal(full[0].numpy(), expected)


def test_paste_then_crop_gives_back_the_mask():
    rng = np.random.default_rng(2)
    mask = torch.as_tensor(rng.random((1, 8, 8)) < 0.5).float()
    box = torch.tensor([[4.0, 8.0, 36.0, 40.0]])  # 32 x 32 px: each mask cell is 4 x 4 px
    pasted = inst.paste_masks(mask, box, (48, 48))
    back = inst.mask_targets(pasted.float(), box, 8)
    assert torch.equal(back, mask)


def test_prompt_maps():
    maps = inst.prompt_maps(
        np.array([[2.5, 1.5]]), (4, 6), sigma=1.0, boxes=np.array([[1.0, 0.6, 3.0, 2.0]])
    )
    assert maps.shape == (1, 2, 4, 6) and maps.dtype == np.float32
    rows, cols = np.mgrid[0:4, 0:6] + 0.5
    np.testing.assert_allclose(maps[0, 0], np.exp(-((cols - 2.5) ** 2 + (rows - 1.5) ** 2) / 2))
    assert maps[0, 0, 1, 2] == 1.0
    expected = np.zeros((4, 6))
    expected[1, 1:3] = 1  # centres y 1.5 in [0.6, 2); x 1.5, 2.5 in [1, 3)
    np.testing.assert_array_equal(maps[0, 1], expected)
    # no box: empty second channel; a NaN row means no box for that prompt
    assert not inst.prompt_maps(np.array([[1.0, 1.0]]), (4, 4))[0, 1].any()
    two = inst.prompt_maps(np.zeros((2, 2)), (4, 4), boxes=np.array([[0, 0, 2, 2], [np.nan] * 4]))
    assert two[0, 1].sum() == 4 and two[1, 1].sum() == 0


def test_sample_point_prompts_lie_on_their_instance():
    _, _, _, instances = _scenes()
    index, ids, points = inst.sample_point_prompts(instances, 200, np.random.default_rng(0))
    cols, rows = (points - 0.5).astype(int).T
    np.testing.assert_array_equal(instances[index, rows, cols], ids)
    assert set(ids) == {1, 2}
    # uniform over the pixels: both objects' pixels are all reachable, none favoured much
    again = inst.sample_point_prompts(instances, 200, np.random.default_rng(0))
    np.testing.assert_array_equal(again[2], points)


def test_mask_head_loss_picks_the_true_class():
    logits = torch.zeros((2, 3, 2, 2))
    logits[0, 1] = 10.0  # class 1 of box 0 says "object" everywhere
    targets = torch.ones((2, 2, 2))
    loss = inst.mask_head_loss(logits, torch.tensor([1, 2]), targets)
    expected = (np.log1p(np.exp(-10.0)) + np.log(2.0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert inst.mask_head_loss(logits[:0], torch.zeros(0, dtype=torch.long), targets[:0]) == 0


def test_jitter_boxes_stay_valid():
    boxes = np.array([[0, 0, 3, 3], [80, 80, 96, 96], [10, 20, 40, 30]], np.float32)
    out = inst.jitter_boxes(boxes, np.random.default_rng(0), 0.5, 96)
    assert out.shape == (3, 4)
    assert (out >= 0).all() and (out <= 96).all()
    assert (out[:, 2:] - out[:, :2] >= 2 - 1e-6).all()
    np.testing.assert_array_equal(
        inst.jitter_boxes(boxes, np.random.default_rng(0), 0.0, 96), boxes
    )


def test_models_shapes():
    X, boxes, labels, _ = _scenes(2)
    model = inst.MaskModel(
        num_classes=2, roi_size=7, channels=(8, 8, 8, 8), out_channels=8, head_width=8
    )
    rois = inst._rois([torch.as_tensor(b) for b in boxes], "cpu")
    assert model(torch.as_tensor(X), rois).shape == (4, 2, 14, 14)
    masks = inst.predict_instance_masks(model, X, boxes, labels)
    assert [m.shape for m in masks] == [(2, 32, 32), (2, 32, 32)]
    empty = inst.predict_instance_masks(model, X, [np.zeros((0, 4))] * 2, [np.zeros(0)] * 2)
    assert [m.shape for m in empty] == [(0, 32, 32), (0, 32, 32)]
    seg = inst.PromptableSegmenter(widths=(4, 8))
    logits = inst.predict_prompted(seg, X, np.array([[8.0, 8.0], [20.0, 10.0]]))
    assert logits.shape == (2, 32, 32) and logits.dtype == np.float32


def _small_mask_model():
    torch.manual_seed(0)
    return inst.MaskModel(
        num_classes=2,
        roi_size=7,
        channels=(8, 8, 16, 16),
        out_channels=16,
        head_width=16,
        num_convs=2,
    )


def test_mask_training_is_deterministic_and_overfits():
    X, boxes, labels, instances = _scenes()
    runs = []
    for _ in range(2):
        model = _small_mask_model()
        runs.append(
            inst.train_mask_model(
                model,
                X,
                boxes,
                labels,
                instances,
                num_steps=40,
                batch_size=4,
                learning_rate=1e-2,
                warmup_steps=1,
                jitter=0.0,
                progress=False,
            )
        )
    assert runs[0]["loss"] == runs[1]["loss"]
    loss = runs[0]["loss"]
    assert np.mean(loss[-5:]) < 0.5 * np.mean(loss[:5]), loss


def _train_promptable_twice(window=None, dice_weight=1.0):
    """Two 40-step runs of one small promptable model from the same seed."""
    X, _, _, instances = _scenes()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = inst.PromptableSegmenter(widths=(8, 16), window=window)
        runs.append(
            inst.train_promptable(
                model,
                X,
                instances,
                num_steps=40,
                batch_size=8,
                learning_rate=1e-2,
                warmup_steps=1,
                dice_weight=dice_weight,
                progress=False,
            )
        )
    return runs


@pytest.mark.parametrize("dice_weight", [0.0, 1.0])
def test_promptable_training_is_deterministic_and_overfits(dice_weight):
    runs = _train_promptable_twice(dice_weight=dice_weight)
    assert runs[0]["loss"] == runs[1]["loss"]
    loss = runs[0]["loss"]
    share = 0.5 if dice_weight == 0 else 0.75  # the Dice term falls more slowly at first
    assert np.mean(loss[-5:]) < share * np.mean(loss[:5]), loss


def test_budget_is_required():
    with pytest.raises(ValueError, match="num_steps"):
        inst.train_promptable(inst.PromptableSegmenter(widths=(4, 8)), *_scenes()[::3])


def test_promptable_prior_bias_starts_near_the_object_share():
    """A prompted object covers a few % of the image: started at its log-odds the first
    binary cross-entropy is near that share's entropy, not ln 2 (logits 0) as without."""
    X, _, _, instances = _scenes()
    first = {}
    for prior_bias in (True, False):
        torch.manual_seed(0)
        model = inst.PromptableSegmenter(widths=(8, 16))
        history = inst.train_promptable(
            model,
            X,
            instances,
            num_steps=1,
            batch_size=8,
            dice_weight=0.0,
            prior_bias=prior_bias,
            progress=False,
        )
        first[prior_bias] = history["loss"][0]
        if prior_bias:
            shares = [
                (instances[n] == k).mean()
                for n in range(len(instances))
                for k in np.unique(instances[n])
                if k > 0
            ]
            assert min(shares) <= history["prior_share"] <= max(shares), history["prior_share"]
        else:
            assert history["prior_share"] is None
    assert first[True] < 0.4 < 0.5 < first[False], first


def test_crop_windows_centre_the_point_and_stay_inside():
    points = np.array([[0.5, 0.5], [47.3, 50.9], [95.5, 10.0], [40.0, 95.99]])
    corners = inst.crop_windows(points, (96, 96), 64)
    assert corners.dtype == np.int64 and corners.shape == (4, 2)
    np.testing.assert_array_equal(corners, [[0, 0], [15, 18], [32, 0], [8, 32]])
    cols, rows = np.floor(points).astype(int).T
    assert ((corners[:, 0] <= cols) & (cols < corners[:, 0] + 64)).all()
    assert ((corners[:, 1] <= rows) & (rows < corners[:, 1] + 64)).all()
    with pytest.raises(ValueError, match="does not fit"):
        inst.crop_windows(points, (32, 96), 64)


def test_crop_takes_each_window_of_images_and_maps():
    rng = np.random.default_rng(0)
    images = torch.as_tensor(rng.random((3, 2, 10, 12)))
    maps = rng.integers(0, 4, size=(3, 10, 12))
    corners = np.array([[0, 0], [8, 2], [3, 6]])
    crops, map_crops = inst._crop(images, corners, 4), inst._crop(maps, corners, 4)
    assert crops.shape == (3, 2, 4, 4) and map_crops.shape == (3, 4, 4)
    for k, (x0, y0) in enumerate(corners):
        torch.testing.assert_close(crops[k], images[k, :, y0 : y0 + 4, x0 : x0 + 4])
        np.testing.assert_array_equal(map_crops[k], maps[k, y0 : y0 + 4, x0 : x0 + 4])


def test_windowed_prediction_runs_the_model_on_the_window_only():
    X, _, _, _ = _scenes(2)
    torch.manual_seed(0)
    seg = inst.PromptableSegmenter(widths=(4, 8), window=16)
    points = np.array([[3.0, 30.0], [20.0, 10.0]])
    boxes = np.array([[1.0, 25.0, 9.0, 32.0], [np.nan] * 4])
    logits = inst.predict_prompted(seg, X, points, boxes)
    corners = inst.crop_windows(points, (32, 32), 16)
    for k, (x0, y0) in enumerate(corners):
        window = torch.as_tensor(X[k : k + 1, :, y0 : y0 + 16, x0 : x0 + 16])
        box = boxes[k : k + 1] - np.tile(corners[k], 2)
        prompts = torch.as_tensor(
            inst.prompt_maps(points[k : k + 1] - corners[k], (16, 16), 2.0, box)
        )
        with torch.no_grad():
            expected = seg.eval()(window, prompts)[0].numpy()
        np.testing.assert_allclose(logits[k, y0 : y0 + 16, x0 : x0 + 16], expected, atol=1e-5)
        outside = np.ones((32, 32), dtype=bool)
        outside[y0 : y0 + 16, x0 : x0 + 16] = False
        assert (logits[k][outside] == inst.OUTSIDE_LOGIT).all()
    with pytest.raises(ValueError, match="multiple of 2"):
        inst.PromptableSegmenter(widths=(4, 8), window=15)


def test_windowed_training_is_deterministic_and_overfits():
    X, _, _, instances = _scenes()
    runs = _train_promptable_twice(window=16)
    assert runs[0]["loss"] == runs[1]["loss"]
    loss = runs[0]["loss"]
    assert np.mean(loss[-5:]) < 0.75 * np.mean(loss[:5]), loss
    # the prior is the share of a window, not of the image: (32 / 16)^2 = 4 times larger
    whole = inst.train_promptable(
        inst.PromptableSegmenter(widths=(8, 16)),
        X,
        instances,
        num_steps=1,
        batch_size=8,
        progress=False,
    )
    assert runs[0]["prior_share"] == pytest.approx(4 * whole["prior_share"], rel=0.05)
