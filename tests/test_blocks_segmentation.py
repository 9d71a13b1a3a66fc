"""cs231n_lib.blocks.segmentation: output and skip shapes of the FCN, SkipFCN and U-Net,
the bilinear start of a transposed convolution against F.interpolate, overfitting 4 scenes,
determinism by seed, and evaluate_segmenter against scikit-learn on a tiny case."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import jaccard_score

from cs231n_lib.blocks import segmentation as S
from cs231n_lib.data import shapes

NUM_CLASSES = len(shapes.CLASSES) + 1  # background and the five shapes
TINY = {
    "fcn": lambda: S.FCN(NUM_CLASSES, widths=(4, 8, 8, 8)),
    "fcn_transposed": lambda: S.FCN(NUM_CLASSES, widths=(4, 8, 8), upsample="transposed"),
    "skip_fcn": lambda: S.SkipFCN(NUM_CLASSES, widths=(4, 8, 8, 8, 8, 8)),
    "unet": lambda: S.UNet(NUM_CLASSES, widths=(4, 8, 8)),
    "unet_bilinear": lambda: S.UNet(NUM_CLASSES, widths=(4, 8, 8), upsample="bilinear"),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scenes():
    """4 hard training scenes (96x96), NCHW, with their semantic maps."""
    data = shapes.load(num_train=4, num_val=0, num_test=0, layout="nchw", variant="hard")
    return data["X_train"], data["semantic_train"]


@pytest.mark.parametrize("name", sorted(TINY))
def test_scores_have_the_image_size(name):
    torch.manual_seed(0)
    model = TINY[name]()
    for size in (32, 64):
        out = model(torch.rand(2, 3, size, size))
        assert out.shape == (2, NUM_CLASSES, size, size), (name, size, tuple(out.shape))


def test_sizes_that_are_no_multiple_of_the_stride_are_refused():
    with pytest.raises(ValueError, match="multiples of the stride 32"):
        S.SkipFCN(NUM_CLASSES, widths=(4, 4, 4, 4, 4, 4))(torch.rand(1, 3, 48, 48))


def test_encoder_stages_halve_the_size():
    features = S.Encoder((4, 6, 8))(torch.rand(2, 3, 16, 16))
    assert [tuple(f.shape) for f in features] == [(2, 4, 16, 16), (2, 6, 8, 8), (2, 8, 4, 4)]


def test_skip_fcn_sums_scores_of_strides_32_16_8():
    torch.manual_seed(0)
    model = S.SkipFCN(3, widths=(2, 2, 2, 2, 2, 2)).eval()
    seen = []
    for clf in model.classifiers:
        clf.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape)))
    x = torch.rand(1, 3, 64, 64)
    out = model(x)
    assert seen == [(1, 3, 8, 8), (1, 3, 4, 4), (1, 3, 2, 2)]  # strides 8, 16, 32
    # By hand: the fusion of the three score maps, coarsest first.
    features = model.encoder(x)
    s8, s16, s32 = (clf(f) for clf, f in zip(model.classifiers, features[-3:], strict=True))
    up = lambda t, s: F.interpolate(t, scale_factor=s, mode="bilinear", align_corners=False)  # noqa: E731
    torch.testing.assert_close(out, up(up(up(s32, 2) + s16, 2) + s8, 8))


def test_fcn_without_skips_upsamples_once_from_stride_8():
    torch.manual_seed(0)
    model = S.FCN(3, widths=(2, 2, 2, 2)).eval()
    x = torch.rand(1, 3, 32, 32)
    coarse = model.classifier(model.encoder(x)[-1])
    assert coarse.shape == (1, 3, 4, 4)
    expected = F.interpolate(coarse, scale_factor=8, mode="bilinear", align_corners=False)
    torch.testing.assert_close(model(x), expected)


def test_unet_concatenates_skips_at_matching_scales():
    torch.manual_seed(0)
    model = S.UNet(3, widths=(4, 6, 8))
    shapes_in = []
    for block in model.blocks:
        block.register_forward_pre_hook(lambda _m, args: shapes_in.append(tuple(args[0].shape)))
    model(torch.rand(2, 3, 16, 16))
    # From the bottom up: (up 8 -> 6) + skip 6 at 8x8, then (up 6 -> 4) + skip 4 at 16x16.
    assert shapes_in == [(2, 12, 8, 8), (2, 8, 16, 16)]


def test_unet_fine_skip_carries_full_resolution_detail():
    """With the path from below cut (the upsampling zeroed), one changed input pixel still
    changes the output, through the full-resolution skip only, and only near that pixel."""
    torch.manual_seed(0)
    model = S.UNet(2, widths=(4, 4)).eval()
    with torch.no_grad():
        model.ups[0].weight.zero_()
        model.ups[0].bias.zero_()
        model.coarse_classifier.weight.zero_()  # the FCN head on the bottom features
    x = torch.rand(1, 3, 16, 16)
    moved = x.clone()
    moved[0, :, 3, 3] += 1.0
    delta = (model(moved) - model(x)).abs().sum(dim=(0, 1))
    assert delta[3, 3] > 0
    # Four 3x3 convs at full size (two in the encoder, two in the decoder): radius 4.
    assert delta[8:, :].abs().sum() == 0 and delta[:, 8:].abs().sum() == 0


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_bilinear_weights_upsample_as_interpolate_inside_the_border(scale):
    up = S.Upsample(2, scale, mode="transposed")
    x = torch.rand(1, 2, 6, 5)
    out = up(x)
    expected = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    assert out.shape == expected.shape
    pad = (scale + 1) // 2 if scale % 2 == 0 else scale  # the border sees zeros, not the edge
    torch.testing.assert_close(out[..., pad:-pad, pad:-pad], expected[..., pad:-pad, pad:-pad])
    assert not torch.allclose(out, expected)  # ... and there they differ


def test_parameter_budgets_of_the_default_models_are_comparable():
    counts = [
        sum(p.numel() for p in model.parameters())
        for model in (S.FCN(NUM_CLASSES), S.SkipFCN(NUM_CLASSES), S.UNet(NUM_CLASSES))
    ]
    assert max(counts) < 1.5 * min(counts), counts


def test_overfitting_four_scenes_lowers_the_loss(scenes):
    X, y = scenes
    torch.manual_seed(0)
    model = S.UNet(NUM_CLASSES, widths=(8, 16, 16))
    history = S.train_segmenter(
        model,
        X,
        y,
        epochs=60,
        batch_size=4,
        learning_rate=1e-2,
        warmup_steps=5,
        augment=False,
        progress=False,
    )
    assert history["steps"] == 60 and len(history["loss"]) == 60
    assert np.mean(history["loss"][-5:]) < 0.5 * np.mean(history["loss"][:5]), history["loss"][::10]
    accuracy = (S.predict_masks(model, X) == y).mean()
    assert accuracy > 0.9, accuracy


def test_training_is_deterministic_for_a_seed(scenes):
    X, y = scenes

    def run(seed):
        torch.manual_seed(0)
        model = S.FCN(NUM_CLASSES, widths=(4, 8, 8, 8))
        history = S.train_segmenter(model, X, y, epochs=3, batch_size=2, seed=seed, progress=False)
        return history["loss"], S.predict_scores(model, X)

    loss_a, scores_a = run(0)
    loss_b, scores_b = run(0)
    loss_c, _ = run(1)
    assert loss_a == loss_b
    np.testing.assert_array_equal(scores_a, scores_b)
    assert loss_a != loss_c  # another seed, another order of batches and turns


def test_augmentation_turns_images_and_masks_together():
    X = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    y = X[:, 0].long()
    for turns in range(4):
        for flip in (False, True):
            X2, y2 = S._turn(X, y, turns, flip)
            torch.testing.assert_close(X2[:, 0].long(), y2)


def test_training_needs_an_end_and_matching_masks(scenes):
    X, y = scenes
    model = S.FCN(NUM_CLASSES, widths=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="epochs, num_steps or seconds"):
        S.train_segmenter(model, X, y)
    with pytest.raises(ValueError, match="not both"):
        S.train_segmenter(model, X, y, epochs=1, num_steps=3)
    with pytest.raises(ValueError, match="num_steps must be"):
        S.train_segmenter(model, X, y, num_steps=0)
    with pytest.raises(ValueError, match="masks must be"):
        S.train_segmenter(model, X, y[:, :-1], epochs=1)


def test_a_seconds_budget_ends_training(scenes):
    X, y = scenes
    model = S.FCN(NUM_CLASSES, widths=(4, 4, 4, 4))
    history = S.train_segmenter(model, X, y, seconds=0.5, batch_size=2, progress=False)
    assert history["steps"] >= 1 and history["seconds"] < 5.0


@pytest.mark.parametrize("bf16", [False, True])
def test_a_fixed_step_count_ends_training_and_bf16_trains(scenes, bf16):
    X, y = scenes
    torch.manual_seed(0)
    model = S.FCN(NUM_CLASSES, widths=(4, 8, 8, 8))
    history = S.train_segmenter(
        model, X, y, num_steps=7, batch_size=3, warmup_steps=2, bf16=bf16, progress=False
    )
    assert history["steps"] == 7 and len(history["loss"]) == 7
    assert all(np.isfinite(history["loss"])), history["loss"]
    assert S.predict_scores(model, X).dtype == np.float32


class _Fixed(torch.nn.Module):
    """A 'model' that returns given scores (and has a parameter, for the device)."""

    def __init__(self, scores):
        super().__init__()
        self.scores = torch.as_tensor(scores)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.scores[: len(x)] if len(x) == len(self.scores) else self._rows(x)

    def _rows(self, x):  # batches: find the rows by the index stored in the images
        return self.scores[x[:, 0, 0, 0].long()]


def test_evaluate_agrees_with_sklearn_on_a_tiny_case():
    rng = np.random.default_rng(0)
    n, k = 5, 4
    truth = rng.integers(0, 3, size=(n, 6, 6))  # class 3 is never true ...
    scores = rng.normal(size=(n, k, 6, 6))
    scores[:, 3] = -10.0  # ... nor predicted: it has no IoU and stays out of the mean
    images = np.zeros((n, 3, 6, 6), np.float32)
    images[:, 0, 0, 0] = np.arange(n)
    result = S.evaluate_segmenter(_Fixed(scores), images, truth, k, batch_size=2)
    pred = scores.argmax(axis=1)
    conf = sk_confusion_matrix(truth.ravel(), pred.ravel(), labels=range(k))
    np.testing.assert_array_equal(result["confusion"], conf)
    np.testing.assert_allclose(result["pixel_accuracy"], (truth == pred).mean())
    iou = jaccard_score(truth.ravel(), pred.ravel(), labels=[0, 1, 2], average=None)
    np.testing.assert_allclose(result["per_class_iou"][:3], iou)
    assert np.isnan(result["per_class_iou"][3])
    np.testing.assert_allclose(result["mean_iou"], iou.mean())
    np.testing.assert_array_equal(S.predict_masks(_Fixed(scores), images, batch_size=2), pred)


def test_class_frequencies_count_pixels_smoothed_and_skip_ignored():
    masks = np.array([[[0, 0, 1], [255, 0, 2]]])  # 3 x class 0, 1 x class 1, 1 x class 2
    freq = S.class_frequencies(masks, 4, ignore_index=255)  # class 3 absent: 1 pseudo-pixel
    np.testing.assert_allclose(freq, np.array([4, 2, 2, 1]) / 9)
    with pytest.raises(ValueError, match="labels must lie"):
        S.class_frequencies(masks, 4)


@pytest.mark.parametrize("name", ["fcn", "skip_fcn", "unet", "unet_no_coarse"])
def test_prior_bias_sums_to_the_log_class_frequencies(name, scenes):
    _, y = scenes
    torch.manual_seed(0)
    model = TINY[name]() if name in TINY else S.UNet(NUM_CLASSES, (4, 8), coarse_head=False)
    log_prior = S.init_prior_bias(model, y)
    counts = np.array([(y == k).sum() for k in range(NUM_CLASSES)], dtype=np.float64) + 1
    np.testing.assert_allclose(log_prior, np.log(counts / counts.sum()))
    layers = model.classifiers if name == "skip_fcn" else [model.classifier]
    if getattr(model, "coarse_classifier", None) is not None:
        layers.append(model.coarse_classifier)
    total = sum(c.bias.detach().double() for c in layers)  # a constant map adds up to this
    np.testing.assert_allclose(total.numpy(), log_prior, atol=1e-6)


def test_prior_bias_starts_the_unet_near_the_prior_loss(scenes):
    """The slow start of the U-Net (issue 20): with default init its first loss is above
    ln K; started at the prior it is near the entropy of the class frequencies."""
    X, y = scenes
    torch.manual_seed(0)
    model = S.UNet(NUM_CLASSES)
    target = torch.as_tensor(y).long()

    def loss():
        return F.cross_entropy(model(torch.as_tensor(X)), target).item()

    before = loss()
    log_prior = S.init_prior_bias(model, y)
    entropy = -(np.exp(log_prior) * log_prior).sum()
    after = loss()
    assert before > np.log(NUM_CLASSES) - 0.2 and after < entropy + 0.3, (before, after, entropy)


def test_train_segmenter_sets_the_prior_unless_told_not_to(scenes):
    X, y = scenes
    for prior_bias in (True, False):
        torch.manual_seed(0)
        model = TINY["unet"]()
        start = model.classifier.bias.detach().clone()
        history = S.train_segmenter(
            model,
            X,
            y,
            num_steps=1,
            batch_size=2,
            learning_rate=1e-9,
            prior_bias=prior_bias,
            progress=False,
        )
        moved = (model.classifier.bias.detach() - start).abs().max().item()
        if prior_bias:
            assert history["log_prior"] is not None and moved > 0.5, moved
        else:
            assert history["log_prior"] is None and moved < 1e-6, moved


def test_unet_coarse_head_adds_the_upsampled_bottom_scores():
    """UNet's coarse head: scores = full-size classifier + bilinear x stride of a 1x1
    classifier on the bottom features (checked against F.interpolate by hand)."""
    torch.manual_seed(0)
    model = S.UNet(3, widths=(4, 6, 8)).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        full = model(x)
        features = model.encoder(x)
        coarse = F.interpolate(
            model.coarse_classifier(features[-1]), size=(16, 16), mode="bilinear"
        )
        model.coarse_classifier.weight.zero_()
        model.coarse_classifier.bias.zero_()
        decoder_only = model(x)
    assert features[-1].shape[-1] == 4  # the bottom, stride 4
    torch.testing.assert_close(full, decoder_only + coarse)
    assert S.UNet(3, widths=(4, 6, 8), coarse_head=False).coarse_classifier is None
