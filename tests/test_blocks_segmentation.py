"""cs231n_lib.blocks.segmentation: output and skip shapes of the FCN, SkipFCN and U-Net,
the bilinear start of a transposed convolution against F.interpolate, overfitting 4 scenes,
determinism by seed, and evaluate_segmenter against scikit-learn on a tiny case; the
Lovasz-softmax loss against loops over its definition (and its gradient against finite
differences of them), the U-Net's scale heads by hand, and test-time augmentation against
a loop over the 8 views and an equivariant model."""

from __future__ import annotations

import copy

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


# --- Lovasz-softmax ------------------------------------------------------------------------


def lovasz_by_definition(scores, labels, cut=0.0, ignore_index=None):
    """Lovasz-softmax in numpy from its definition: per present class c, the errors
    m = |[y = c] - p_c| sorted descending, and the sum of m_(i) times the increment of the
    Jaccard loss |S| / |G u S| as the sorted pixels join S one at a time (explicit sets);
    errors <= cut left out."""
    scores = np.asarray(scores, dtype=np.float64)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = (exp / exp.sum(axis=1, keepdims=True)).transpose(0, 2, 3, 1)
    probs = probs.reshape(-1, scores.shape[1])  # (P, K)
    y = np.asarray(labels).ravel()
    if ignore_index is not None:
        probs, y = probs[y != ignore_index], y[y != ignore_index]
    losses = []
    for c in sorted(set(y.tolist())):
        truth = set(np.flatnonzero(y == c).tolist())
        errors = np.abs((y == c) - probs[:, c])
        loss, previous, chosen = 0.0, 0.0, set()
        for i in sorted(range(len(errors)), key=lambda i: -errors[i]):
            if errors[i] <= cut:
                break
            chosen.add(i)
            jaccard_loss = len(chosen) / len(truth | chosen)
            loss += errors[i] * (jaccard_loss - previous)
            previous = jaccard_loss
        losses.append(loss)
    return float(np.mean(losses))


def _lovasz(scores, labels, ignore_index=None):
    return S.lovasz_softmax_loss(torch.as_tensor(scores), torch.as_tensor(labels), ignore_index)


@pytest.mark.parametrize("scale", [1.5, 12.0])
def test_lovasz_matches_its_definition_and_the_cut_costs_under_1e_3(scale):
    """scale 12: confident scores, most errors below the cut (the case where it matters)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(2, 5, 6))  # class 3 of 4 absent: left out of the mean
    scores = rng.normal(0.0, scale, size=(2, 4, 5, 6))
    loss = _lovasz(scores, labels).item()
    cut = lovasz_by_definition(scores, labels, cut=S.LOVASZ_CUT)
    exact = lovasz_by_definition(scores, labels)
    np.testing.assert_allclose(
        loss,
        cut,
        rtol=1e-10,
        err_msg="lovasz_softmax_loss against the loops over the "
        "sorted errors (same cut): look at the sort order, the cumulative sums, the classes",
    )
    assert 0.0 <= exact - loss < S.LOVASZ_CUT, (
        f"the cut may only drop < {S.LOVASZ_CUT} of the exact loss {exact}, got {loss}"
    )
    if scale > 10:
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        onehot = labels[:, None] == np.arange(4)[None, :, None, None]
        assert (np.abs(onehot - probs) <= S.LOVASZ_CUT).mean() > 0.3  # the cut is exercised


def test_lovasz_skips_ignored_pixels():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=(2, 4, 4))
    labels[0, :2] = 255
    scores = rng.normal(0.0, 2.0, size=(2, 4, 4, 4))
    np.testing.assert_allclose(
        _lovasz(scores, labels, 255).item(),
        lovasz_by_definition(scores, labels, S.LOVASZ_CUT, 255),
        rtol=1e-10,
    )
    with pytest.raises(ValueError, match="labels must lie"):
        _lovasz(scores, labels)


def test_lovasz_gradient_matches_finite_differences_of_the_definition():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=(2, 3, 4))
    scores = rng.normal(0.0, 1.5, size=(2, 3, 3, 4))
    scores_t = torch.tensor(scores, requires_grad=True)
    _lovasz(scores_t, labels).backward()
    numeric, h = np.zeros_like(scores), 1e-6
    for index in np.ndindex(scores.shape):
        up, down = scores.copy(), scores.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (
            lovasz_by_definition(up, labels, S.LOVASZ_CUT)
            - lovasz_by_definition(down, labels, S.LOVASZ_CUT)
        ) / (2 * h)
    np.testing.assert_allclose(
        scores_t.grad.numpy(),
        numeric,
        rtol=1e-5,
        atol=1e-8,
        err_msg="d lovasz / d scores against central differences of the definition",
    )


def test_lovasz_is_zero_when_right_and_one_minus_iou_when_confident():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(2, 6, 6))
    onehot = (labels[:, None] == np.arange(4)[None, :, None, None]).astype(np.float64)
    scores = torch.tensor(20.0 * onehot, requires_grad=True)
    loss = _lovasz(scores, labels)
    loss.backward()
    assert loss.item() < 1e-6 and torch.isfinite(scores.grad).all(), loss.item()
    # Confident but partly wrong: the loss is 1 - the mean IoU of the hard prediction.
    predicted = np.where(rng.random(labels.shape) < 0.7, labels, rng.integers(0, 4, labels.shape))
    hard = 20.0 * (predicted[:, None] == np.arange(4)[None, :, None, None])
    iou = jaccard_score(labels.ravel(), predicted.ravel(), labels=range(4), average=None)
    np.testing.assert_allclose(_lovasz(hard, labels).item(), 1 - iou.mean(), atol=1e-6)


def test_lovasz_weight_adds_the_lovasz_loss_of_the_batch(scenes):
    """With the whole set as one batch and no augmentation, the first step's loss is the
    cross-entropy plus lovasz_weight x the Lovasz loss of the model's scores (both sums are
    the same whatever the order of the batch)."""
    X, y = scenes
    torch.manual_seed(0)
    model = TINY["unet"]()
    start = copy.deepcopy(model)
    S.init_prior_bias(start, y)
    expected = S.lovasz_softmax_loss(start.train()(torch.as_tensor(X)), torch.as_tensor(y).long())
    kwargs = dict(num_steps=2, batch_size=len(X), augment=False, bf16=False, progress=False)
    history = S.train_segmenter(model, X, y, lovasz_weight=0.5, **kwargs)
    gap = history["loss"][0] - history["cross_entropy"][0]
    np.testing.assert_allclose(gap, 0.5 * expected.item(), rtol=1e-4)
    history = S.train_segmenter(copy.deepcopy(start), X, y, **kwargs)
    assert history["loss"] == history["cross_entropy"]  # weight 0: cross-entropy alone
    with pytest.raises(ValueError, match="lovasz_weight must be"):
        S.train_segmenter(model, X, y, lovasz_weight=-1.0, **kwargs)


# --- scale heads ---------------------------------------------------------------------------


def test_unet_scale_heads_read_strides_4_and_2_and_add_their_upsampled_scores():
    torch.manual_seed(0)
    model = S.UNet(3, widths=(4, 6, 8, 10), scale_heads=True).eval()
    decoded = []
    for block in model.blocks:
        block.register_forward_hook(lambda _m, _i, out: decoded.append(out))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for head in model.scale_classifiers:
            head.weight.normal_()
            head.bias.normal_()
        out = model(x)
        assert [tuple(d.shape) for d in decoded[:-1]] == [(2, 8, 8, 8), (2, 6, 16, 16)]
        up = lambda t: F.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False)  # noqa: E731
        heads = sum(up(h(d)) for h, d in zip(model.scale_classifiers, decoded[:-1], strict=True))
        for head in model.scale_classifiers:
            head.weight.zero_()
            head.bias.zero_()
        without = model(x)
    torch.testing.assert_close(out, without + heads)


def test_unet_zero_scale_heads_score_as_the_net_without_them():
    torch.manual_seed(0)
    plain = S.UNet(NUM_CLASSES, widths=(4, 8, 8, 8)).eval()
    torch.manual_seed(0)
    headed = S.UNet(NUM_CLASSES, widths=(4, 8, 8, 8), scale_heads=True).eval()
    # the heads are made last: a seed gives every other layer the same weights
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(headed.state_dict()[name], value, rtol=0, atol=0)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        start = headed(x)
        for head in headed.scale_classifiers:
            assert head.bias.abs().max() == 0 and head.weight.abs().max() < 1e-2
            head.weight.zero_()
        torch.testing.assert_close(headed(x), plain(x), rtol=0, atol=0)
        torch.testing.assert_close(start, plain(x), rtol=0, atol=1e-2)  # a new net: near it


def test_prior_bias_with_scale_heads_sums_to_the_log_class_frequencies(scenes):
    _, y = scenes
    model = S.UNet(NUM_CLASSES, widths=(4, 8, 8), scale_heads=True)
    with torch.no_grad():
        model.scale_classifiers[0].bias.fill_(0.3)  # a head with a bias of its own
    log_prior = S.init_prior_bias(model, y)
    layers = [model.classifier, model.coarse_classifier, *model.scale_classifiers]
    total = sum(c.bias.detach().double() for c in layers)
    np.testing.assert_allclose(total.numpy(), log_prior, atol=1e-6)


# --- test-time augmentation ----------------------------------------------------------------


def _softmax(scores, axis=1):
    exp = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return exp / exp.sum(axis=axis, keepdims=True)


def test_tta_is_the_mean_softmax_of_the_8_views_turned_back():
    torch.manual_seed(0)
    model = S.UNet(NUM_CLASSES, widths=(4, 8, 8)).eval()
    X = np.random.default_rng(4).random((3, 3, 16, 24)).astype(np.float32)  # not square
    mean = np.zeros((3, NUM_CLASSES, 16, 24))
    for flip in (False, True):
        for turns in range(4):
            view = np.rot90(X[..., ::-1] if flip else X, turns, axes=(2, 3))
            with torch.no_grad():
                scores = model(torch.tensor(view.copy())).numpy()
            back = np.rot90(_softmax(scores), -turns, axes=(2, 3))
            mean += (back[..., ::-1] if flip else back) / 8
    tta = S.predict_scores(model, X, batch_size=2, tta=True)
    np.testing.assert_allclose(
        np.exp(tta),
        mean,
        rtol=1e-4,
        atol=1e-6,
        err_msg="exp of the TTA scores against the mean of the 8 views' softmax turned back "
        "by direct loops: look at the inverse (turn back by -turns, then flip)",
    )
    np.testing.assert_array_equal(S.predict_masks(model, X, batch_size=2, tta=True), mean.argmax(1))
    assert np.abs(mean - _softmax(S.predict_scores(model, X))).max() > 1e-3  # TTA does something
    truth = np.random.default_rng(5).integers(0, NUM_CLASSES, size=(3, 16, 24))
    result = S.evaluate_segmenter(model, X, truth, NUM_CLASSES, batch_size=2, tta=True)
    conf = sk_confusion_matrix(truth.ravel(), mean.argmax(1).ravel(), labels=range(NUM_CLASSES))
    np.testing.assert_array_equal(result["confusion"], conf)


def test_tta_of_an_equivariant_model_is_its_plain_prediction():
    """A conv whose kernels are symmetric under the flips and quarter turns, a ReLU, a 1x1
    conv: it commutes with all 8 views, so their mean is the plain softmax."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    with torch.no_grad():
        w = conv.weight
        views = [torch.rot90(w.flip(-1) if f else w, k, (-2, -1)) for f in (0, 1) for k in range(4)]
        conv.weight.copy_(torch.stack(views).mean(0))
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1)).eval()
    X = torch.rand(2, 3, 12, 12)
    plain = S.predict_scores(model, X)
    np.testing.assert_allclose(
        S.predict_scores(model, X, tta=True),
        torch.log_softmax(torch.as_tensor(plain), 1).numpy(),
        atol=1e-5,
    )
    np.testing.assert_array_equal(S.predict_masks(model, X, tta=True), plain.argmax(1))
