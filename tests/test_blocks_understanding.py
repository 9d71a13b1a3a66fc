"""Tests of cs231n_lib.blocks.understanding: the classifiers against their layers applied by
hand, occlusion against a loop over patches, the attack and visualization loops driven by
known functions on a linear model (whose gradients are closed form), the blur against
scipy.ndimage, nearest neighbours against scipy.spatial, and the training loop's seeding.

fool_by_normalized_ascent and fgsm_by_sign below are this file's own attacks (the notebook's
students write theirs); they drive fooling_success and fgsm_curve here and measured the
numbers quoted in the module's TRAINING notes.
"""

import numpy as np
import pytest
import scipy.ndimage
import scipy.spatial.distance
import torch
import torch.nn.functional as F
from torch import nn
from torch_cases import perturbed

from cs231n_lib.blocks import understanding as U

C, H, W, K = 2, 8, 8, 4


def images_of(seed, N=3, C=C, H=H, W=W):
    return torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(seed))


def linear_model(seed=0, C=C, H=H, W=W, K=K):
    """scores = W flatten(x) + b, in eval mode: every gradient with respect to x is closed form."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, K)).eval()


def fool_by_normalized_ascent(X, target_y, model, learning_rate=0.1, max_steps=100):
    """Gradient ascent on the target's score, step = learning_rate g / ||g||, until the
    model's argmax is target_y (checked before each step) or max_steps steps."""
    X_fooling = X.clone().requires_grad_()
    for _ in range(max_steps):
        scores = model(X_fooling)
        if scores.argmax(dim=1).item() == target_y:
            break
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling += learning_rate * X_fooling.grad / X_fooling.grad.norm()
            X_fooling.grad.zero_()
    return X_fooling.detach()


def fgsm_by_sign(X, y, model, epsilon):
    """X + epsilon sign(d loss / d X), clamped to [0, 1]."""
    X = X.clone().requires_grad_()
    F.cross_entropy(model(X), y).backward()
    return (X + epsilon * X.grad.sign()).clamp(0, 1).detach()


# -- classifiers -----------------------------------------------------------------------------


def test_nets_are_their_stages_then_global_pooling_then_the_classifier():
    for net, (C_in, side, widths) in [
        (U.ShapesNet(widths=(4, 6, 8, 8)), (3, 16, (4, 6, 8, 8))),
        (U.DigitsNet(widths=(4, 6, 8), convs_per_stage=2), (1, 12, (4, 6, 8))),
    ]:
        model = perturbed(net)
        X = torch.rand(2, C_in, side, side, generator=torch.Generator().manual_seed(1))
        out, expected_side = X, side
        for s, width in enumerate(widths):
            stage = getattr(model.features, f"stage{s + 1}")
            out = stage(out)
            assert out.shape == (2, width, expected_side, expected_side), (
                f"{type(net).__name__} stage{s + 1} gave {tuple(out.shape)}: one 2x2 max "
                f"pooling before every stage but the first"
            )
            expected_side //= 2 if s + 1 < len(widths) else 1
        with torch.no_grad():
            expected = model.classifier(out.mean(dim=(2, 3)))
            scores = model(X)
        assert torch.allclose(scores, expected, atol=1e-6), (
            f"{type(net).__name__}: scores differ from classifier(mean of the last stage) by "
            f"{(scores - expected).abs().max():.2e}"
        )


def test_nets_default_to_the_data_sets_shapes():
    torch.manual_seed(0)
    for net, shape, K_expected in [
        (U.ShapesNet(), (2, 3, 32, 32), 5),
        (U.DigitsNet(), (2, 1, 32, 32), 10),
    ]:
        with torch.no_grad():
            scores = net.eval()(torch.rand(shape))
        assert scores.shape == (2, K_expected), f"{type(net).__name__} gave {tuple(scores.shape)}"


def test_feature_layers_returns_the_named_stages_with_gradients():
    model = perturbed(U.DigitsNet(widths=(4, 6, 8)))
    X = images_of(0, N=2, C=1, H=16, W=16).requires_grad_()
    stage1 = model.features.stage1(X)
    stage3 = model.features.stage3(model.features.stage2(stage1))
    got = U.feature_layers(model, X, ["stage3", "stage1"])
    assert list(got) == ["stage3", "stage1"], f"keys {list(got)}: the names in the order asked"
    for name, expected in [("stage1", stage1), ("stage3", stage3)]:
        assert torch.allclose(got[name], expected, atol=1e-6), f"{name} differs from the stage"
    got["stage3"].sum().backward()
    assert X.grad is not None and X.grad.abs().sum() > 0, "no gradient reached the images"
    assert list(U.feature_layers(model, X.detach())) == ["stage1", "stage2", "stage3"]


def test_accuracy_is_the_share_of_correct_argmax():
    model = linear_model()
    X = images_of(2, N=50)
    y = torch.randint(0, K, (50,), generator=torch.Generator().manual_seed(3)).numpy()
    with torch.no_grad():
        expected = float(np.mean(model(X).argmax(1).numpy() == y))
    assert U.accuracy(model, X.numpy(), y, batch_size=7) == pytest.approx(expected)


def test_downsample_averages_blocks():
    X = images_of(3, N=2, C=3, H=6, W=9).numpy()
    got = U.downsample(X, 3)
    expected = np.array(
        [
            [
                [
                    [X[n, c, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3].mean() for j in range(3)]
                    for i in range(2)
                ]
                for c in range(3)
            ]
            for n in range(2)
        ]
    )
    assert got.shape == (2, 3, 2, 3) and got.dtype == np.float32, (got.shape, got.dtype)
    assert np.allclose(got, expected, atol=1e-6), "not the mean of each 3x3 block"


# -- training --------------------------------------------------------------------------------


def bright_or_dark(seed, N=64):
    """Images whose class is whether their mean is above one half: a net learns it fast."""
    X = images_of(seed, N=N, C=1, H=8, W=8) * 0.5 + torch.rand(N, 1, 1, 1) * 0.5
    return X.numpy(), (X.mean(dim=(1, 2, 3)) > 0.5).long().numpy()


def test_training_is_seeded_and_learns():
    X, y = bright_or_dark(0)
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(5)
        model = U.DigitsNet(num_classes=2, widths=(4, 8))
        state = torch.get_rng_state()
        history = U.train_classifier(model, X, y, 30, batch_size=16, seed=seed, progress=False)
        assert torch.equal(torch.get_rng_state(), state), "the caller's random state changed"
        runs.append(history["loss"])
    assert runs[0] == runs[1], "two runs with the same seed gave different losses"
    assert runs[0] != runs[2], "seeds 0 and 1 gave the same losses: is seed used?"
    assert np.mean(runs[0][-5:]) < 0.7 * np.mean(runs[0][:5]), (
        f"the loss went from {np.mean(runs[0][:5]):.3f} to {np.mean(runs[0][-5:]):.3f} in 30 "
        f"steps on an easy task"
    )
    assert not model.training, "train_classifier should leave the model in eval mode"


def test_training_budgets_are_train_classifier_arguments():
    X, y = bright_or_dark(1, N=8)
    for name, budget in U.TRAINING.items():
        quick = {**budget, "num_steps": 1}
        if not budget["symmetric"]:
            assert name == "digits", f"{name}: the shapes keep their class under flips"
        U.train_classifier(U.DigitsNet(num_classes=2, widths=(2,)), X, y, progress=False, **quick)


def test_symmetric_augmentation_draws_the_eight_symmetries_of_the_square():
    images = images_of(0, N=200, C=1, H=5, W=5)
    out = U._dihedral(images, torch.Generator().manual_seed(0))
    seen = set()
    for before, after in zip(images, out, strict=True):
        found = [
            (k, flip)
            for k in range(4)
            for flip in (False, True)
            if torch.equal(after, torch.rot90(before.flip(-1) if flip else before, k, (1, 2)))
        ]
        assert found, "an augmented image is no rotation or reflection of its input"
        seen.add(found[0])
    assert len(seen) == 8, f"only {len(seen)} of the 8 symmetries appeared in 200 images"


# -- occlusion -------------------------------------------------------------------------------


def test_occlusion_map_matches_a_loop_over_patches():
    model = perturbed(U.DigitsNet(num_classes=K, in_channels=C, widths=(4, 6)))
    X, y = images_of(4, N=2, H=9, W=9), torch.tensor([1, 3])
    patch, stride, fill = 3, 2, 0.25
    drops = U.occlusion_map(model, X, y, patch, stride, fill, batch_size=5)
    assert drops.shape == (2, 4, 4), f"(N, H', W') = (2, 4, 4) for 9x9, got {tuple(drops.shape)}"
    with torch.no_grad():
        for n in range(2):
            clean = F.softmax(model(X[n : n + 1]), dim=1)[0, y[n]]
            for i in range(4):
                for j in range(4):
                    occluded = X[n : n + 1].clone()
                    occluded[..., 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] = fill
                    expected = clean - F.softmax(model(occluded), dim=1)[0, y[n]]
                    assert drops[n, i, j] == pytest.approx(float(expected), abs=1e-6), (
                        f"image {n}, patch ({i}, {j}): {float(drops[n, i, j]):.6f} but the "
                        f"probability dropped by {float(expected):.6f}"
                    )


# -- fooling and FGSM --------------------------------------------------------------------------


def steps_to_fool(weight, bias, x, target, learning_rate):
    """Closed form for a linear model: the step direction is always w_t / ||w_t||."""
    direction = weight[target] / np.linalg.norm(weight[target])
    for n in range(101):
        if np.argmax(weight @ (x + n * learning_rate * direction) + bias) == target:
            return n
    raise AssertionError("the linear model is not fooled in 100 steps; pick another seed")


def test_fooling_success_measures_the_change_and_the_steps():
    model = linear_model(1)
    X = images_of(5, N=6)
    with torch.no_grad():
        predicted = model(X).argmax(1)
    targets = (predicted + 1 + torch.arange(6) % (K - 1)) % K  # never the predicted class
    result = U.fooling_success(model, X, targets, fool_by_normalized_ascent)
    weight = model[1].weight.detach().double().numpy()
    bias = model[1].bias.detach().double().numpy()
    steps = np.array(
        [
            steps_to_fool(weight, bias, x, int(t), 0.1)
            for x, t in zip(X.flatten(1).double().numpy(), targets, strict=True)
        ]
    )
    assert result["success"].all() and result["success_rate"] == 1.0, result["success"]
    assert np.allclose(result["l2"], 0.1 * steps, atol=1e-4), (
        f"l2 {result['l2']} but the closed form moved {0.1 * steps}: n steps of length 0.1"
    )
    assert result["mean_l2"] == pytest.approx(float(np.mean(0.1 * steps)), abs=1e-4)
    assert np.array_equal(result["forward_passes"], steps + 1), (
        f"forward passes {result['forward_passes']}, expected steps + 1 = {steps + 1}"
    )
    change = (result["X_fooling"] - X).flatten(1)
    assert np.allclose(result["linf"], change.abs().amax(1).numpy(), atol=1e-7)


def test_fooling_success_reports_failures_and_keeps_the_images():
    model = linear_model(1)
    X = images_of(6, N=4)
    X_before = X.clone()
    with torch.no_grad():
        predicted = model(X).argmax(1)

    def change_in_place_but_return_nothing_new(X_one, target_y, model):
        X_one += 1.0
        return X_one - 1.0

    result = U.fooling_success(
        model, X, (predicted + 1) % K, change_in_place_but_return_nothing_new
    )
    assert torch.equal(X, X_before), "the student's function changed the caller's images"
    assert result["success_rate"] == 0.0 and np.isnan(result["mean_l2"]), result
    assert np.allclose(result["l2"], 0.0, atol=1e-6), result["l2"]

    def nudge_by_target(X_one, target_y, model):
        return X_one + 1e-4 * (target_y + 1)  # too small to change the argmax

    targets = torch.where(torch.arange(4) < 2, predicted, (predicted + 1) % K)
    half = U.fooling_success(model, X, targets, nudge_by_target)
    assert half["success"].tolist() == [True, True, False, False], half["success"]
    l2 = 1e-4 * (targets.numpy() + 1) * np.sqrt(C * H * W)
    assert np.allclose(half["l2"], l2, rtol=1e-3), f"l2 {half['l2']}, expected {l2}"
    assert half["mean_l2"] == pytest.approx(l2[:2].mean(), rel=1e-3), (
        f"mean_l2 {half['mean_l2']}: the mean over the fooled images only, {l2[:2].mean()}"
    )


def test_fgsm_curve_matches_the_closed_form_attack_on_a_linear_model():
    model = linear_model(2)
    X = images_of(7, N=23)
    with torch.no_grad():
        y = model(X).argmax(1)  # the clean accuracy is 1
    epsilons = [0.0, 0.01, 0.03, 0.1]
    got = U.fgsm_curve(model, X, y, epsilons, fgsm_by_sign, batch_size=5)
    weight = model[1].weight.detach().double().numpy()
    bias = model[1].bias.detach().double().numpy()
    x = X.flatten(1).double().numpy()
    scores = x @ weight.T + bias
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(23), y.numpy()] -= 1  # d loss / d scores
    signs = np.sign(p @ weight)  # (N, D)
    expected = [
        np.mean(np.argmax(np.clip(x + eps * signs, 0, 1) @ weight.T + bias, 1) == y.numpy())
        for eps in epsilons
    ]
    assert got.shape == (4,) and np.allclose(got, expected), (
        f"fgsm_curve gave {got}, the closed-form attack {expected}"
    )
    assert expected[0] == 1.0 and expected[-1] < 0.5, f"a weak test: accuracies {expected}"


# -- class visualization -------------------------------------------------------------------------


def gradient_step(img, model, target_y, l2_reg, learning_rate):
    """img += learning_rate d(score - l2_reg ||img||^2)/d img, in place."""
    objective = model(img)[0, target_y] - l2_reg * img.pow(2).sum()
    objective.backward()
    with torch.no_grad():
        img += learning_rate * img.grad


def test_class_visualization_without_jitter_or_blur_is_clamped_gradient_ascent():
    model = linear_model(3)
    out = U.class_visualization(
        model,
        2,
        gradient_step,
        num_steps=6,
        image_shape=(C, H, W),
        l2_reg=0.5,
        learning_rate=0.3,
        blur_every=None,
        max_jitter=0,
        seed=4,
        snapshot_every=3,
    )
    w = model[1].weight[2].detach().view(C, H, W).numpy()
    x = out["snapshots"][0][1][0].numpy()
    for _ in range(6):
        x = np.clip(x + 0.3 * (w - 2 * 0.5 * x), 0, 1)
    assert [step for step, _ in out["snapshots"]] == [0, 3, 6], out["snapshots"]
    assert np.allclose(out["image"][0].numpy(), x, atol=1e-5), (
        f"the image differs from 6 clamped steps of x + lr (w - 2 reg x) by "
        f"{np.abs(out['image'][0].numpy() - x).max():.2e}"
    )
    with torch.no_grad():
        assert out["score"] == pytest.approx(float(model(out["image"])[0, 2]), abs=1e-5)


def test_class_visualization_rolls_the_image_and_rolls_it_back():
    model = linear_model(3)
    seen = []

    def look(img, model, target_y, l2_reg, learning_rate):
        seen.append(img.detach().clone())

    out = U.class_visualization(
        model,
        0,
        look,
        num_steps=8,
        image_shape=(C, H, W),
        blur_every=None,
        max_jitter=2,
        seed=1,
        snapshot_every=8,
    )
    init = out["snapshots"][0][1]
    assert torch.allclose(out["image"], init.clamp(0, 1)), "rolled images were not rolled back"
    shifts = []
    for img in seen:
        match = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.allclose(img, torch.roll(init, (dy, dx), dims=(2, 3)).clamp(0, 1))
        ]
        assert match, "update_step saw an image that is no roll of at most 2 px of the start"
        shifts.append(match[0])
    assert len(set(shifts)) > 1, f"every step had the same shift {shifts[0]}: is jitter drawn?"


def test_class_visualization_blurs_every_k_steps_and_takes_returned_images():
    out = U.class_visualization(
        linear_model(3, C=1),
        0,
        lambda *args: None,
        num_steps=4,
        image_shape=(1, H, W),
        blur_every=2,
        blur_sigma=0.7,
        max_jitter=0,
        seed=2,
        snapshot_every=1,
    )
    x = out["snapshots"][0][1].numpy()
    for _ in range(2):
        x = scipy.ndimage.gaussian_filter(np.clip(x, 0, 1), sigma=(0, 0, 0.7, 0.7))
    assert np.allclose(out["image"].numpy(), x, atol=1e-5), "not two blurs in four steps"
    assert torch.equal(out["snapshots"][1][1], out["snapshots"][0][1].clamp(0, 1)), (
        "step 1 blurred already; blur_every=2 blurs after steps 2 and 4"
    )
    zeros = U.class_visualization(
        linear_model(3),
        0,
        lambda img, *args: img * 0 - 1,
        num_steps=1,
        image_shape=(C, H, W),
        blur_every=None,
        seed=0,
    )
    assert torch.equal(zeros["image"], torch.zeros(1, C, H, W)), "returned image not used"
    start = images_of(1, N=1, C=1)
    kept = U.class_visualization(
        linear_model(3, C=1),
        0,
        lambda *args: None,
        3,
        (1, H, W),
        blur_every=None,
        max_jitter=1,
        init=start,
    )
    assert torch.allclose(kept["image"], start), "init was not the starting image"


def test_class_visualization_is_seeded():
    model = linear_model(3)
    runs = [
        U.class_visualization(
            model, 1, gradient_step, 5, (C, H, W), 0.1, 0.1, 2, 0.5, 2, s, snapshot_every=5
        )
        for s in (0, 0, 1)
    ]
    assert torch.equal(runs[0]["image"], runs[1]["image"]), "the same seed gave two images"
    assert not torch.equal(runs[0]["image"], runs[2]["image"]), "seeds 0 and 1: one image"
    start = [run["snapshots"][0][1] for run in runs]
    assert not torch.equal(start[0], start[2]), "seeds 0 and 1 started from the same image"
    assert abs(float(start[0].mean()) - 0.5) < 0.05 and abs(float(start[0].std()) - 0.1) < 0.03, (
        f"the start should be 0.5 + 0.1 N(0, 1): mean {start[0].mean():.3f}, "
        f"std {start[0].std():.3f}"
    )


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
def test_gaussian_blur_matches_scipy(sigma):
    images = images_of(8, N=2, C=3, H=11, W=13)
    got = U.gaussian_blur(images, sigma)
    expected = scipy.ndimage.gaussian_filter(
        images.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect"
    )
    assert np.allclose(got.numpy(), expected, atol=1e-6), (
        f"sigma={sigma}: blur differs from scipy's by {np.abs(got.numpy() - expected).max():.2e}"
    )


# -- feature inversion and nearest neighbours ------------------------------------------------


def test_tv_matches_a_loop_over_neighbours():
    img = images_of(9, N=2, C=2, H=4, W=5).double()
    a = img.numpy()
    vertical = [
        (a[n, c, i + 1, j] - a[n, c, i, j]) ** 2
        for n in range(2)
        for c in range(2)
        for i in range(3)
        for j in range(5)
    ]
    horizontal = [
        (a[n, c, i, j + 1] - a[n, c, i, j]) ** 2
        for n in range(2)
        for c in range(2)
        for i in range(4)
        for j in range(4)
    ]
    assert float(U._tv(img)) == pytest.approx(np.mean(vertical) + np.mean(horizontal))


def test_invert_features_recovers_an_image_from_an_injective_linear_map():
    generator = torch.Generator().manual_seed(0)
    shape = (1, 4, 4)
    A = torch.randn(24, 16, generator=generator)
    target_image = torch.rand(1, *shape, generator=generator) * 0.8 + 0.1

    def extract(img):
        return img.flatten(1) @ A.T  # (1, 24)

    out = U.invert_features(
        extract,
        extract(target_image),
        shape,
        num_steps=300,
        learning_rate=0.05,
        tv_weight=0.0,
        seed=0,
    )
    assert (out["image"] - target_image).abs().max() < 0.02, (
        f"inverting an injective map missed the image by "
        f"{(out['image'] - target_image).abs().max():.3f}"
    )
    init = 0.5 + 0.1 * torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    first = (extract(init) - extract(target_image)).pow(2).sum() / extract(target_image).pow(
        2
    ).sum()
    assert out["loss"][0] == pytest.approx(float(first), rel=1e-5), (
        "the first loss is not the squared error relative to the target's squared norm"
    )
    smooth = U.invert_features(extract, extract(target_image), shape, 300, 0.05, tv_weight=10.0)
    assert U._tv(smooth["image"]) < 0.5 * U._tv(out["image"]), "tv_weight did not smooth"


def test_nearest_neighbours_match_scipy():
    generator = np.random.default_rng(0)
    query, bank = generator.normal(size=(7, 5)), generator.normal(size=(40, 5))
    expected = np.argsort(scipy.spatial.distance.cdist(query, bank), axis=1, kind="stable")[:, :3]
    got = U.nearest_neighbours(torch.as_tensor(query, dtype=torch.float32), bank, 3)
    assert got.shape == (7, 3) and np.array_equal(got, expected), f"{got} != {expected}"
    tied = U.nearest_neighbours(np.zeros((1, 2)), np.ones((4, 2)), 4)
    assert tied.tolist() == [[0, 1, 2, 3]], f"ties should keep the lower index first: {tied}"


# -- bad arguments -----------------------------------------------------------------------------


def test_bad_arguments_are_refused():
    model = linear_model()
    X, y = images_of(0), torch.tensor([0, 1, 2])
    cases = [
        (ValueError, "patch", lambda: U.occlusion_map(model, X, y, patch=H + 1, stride=1)),
        (ValueError, "stride", lambda: U.occlusion_map(model, X, y, patch=2, stride=0)),
        (TypeError, "X must be a torch.Tensor", lambda: U.occlusion_map(model, X.numpy(), y, 2, 1)),
        (ValueError, "y must be integer", lambda: U.occlusion_map(model, X, y.float(), 2, 1)),
        (
            ValueError,
            "target_y",
            lambda: U.fooling_success(model, X, [0, 1], fool_by_normalized_ascent),
        ),
        (
            ValueError,
            "make_fooling_image must return",
            lambda: U.fooling_success(model, X, y, lambda *a: a[0][0]),
        ),
        (ValueError, "epsilons", lambda: U.fgsm_curve(model, X, y, [0.1, -0.1], fgsm_by_sign)),
        (
            ValueError,
            "fgsm_attack must return",
            lambda: U.fgsm_curve(model, X, y, [0.1], lambda *a: None),
        ),
        (
            ValueError,
            "num_steps",
            lambda: U.class_visualization(model, 0, gradient_step, 0, (C, H, W)),
        ),
        (
            ValueError,
            "max_jitter",
            lambda: U.class_visualization(model, 0, gradient_step, 1, (C, H, W), max_jitter=H),
        ),
        (
            ValueError,
            "init must be",
            lambda: U.class_visualization(model, 0, gradient_step, 1, (C, H, W), init=X),
        ),
        (
            ValueError,
            "image_shape",
            lambda: U.class_visualization(model, 0, gradient_step, 1, (H, W)),
        ),
        (ValueError, "sigma", lambda: U.gaussian_blur(X, 0.0)),
        (ValueError, "radius", lambda: U.gaussian_blur(X, 3.0)),
        (
            TypeError,
            "target_features",
            lambda: U.invert_features(lambda i: i, np.zeros(3), (C, H, W)),
        ),
        (
            ValueError,
            "extract gave shape",
            lambda: U.invert_features(lambda i: i, X[:1, :1], (C, H, W), 1),
        ),
        (
            ValueError,
            "tv_weight",
            lambda: U.invert_features(lambda i: i, X[:1], (C, H, W), 1, tv_weight=-1),
        ),
        (ValueError, "k=5", lambda: U.nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 3)), 5)),
        (
            ValueError,
            "share D",
            lambda: U.nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 2)), 1),
        ),
        (
            ValueError,
            "not stages",
            lambda: U.feature_layers(U.DigitsNet(), torch.zeros(1, 1, 8, 8), ["conv9"]),
        ),
        (TypeError, "nn.Sequential", lambda: U.feature_layers(model, X)),
        (ValueError, "widths", lambda: U.ShapesNet(widths=())),
        (ValueError, "multiples of 2", lambda: U.downsample(np.zeros((1, 1, 5, 4)), 2)),
        (ValueError, "C=3", lambda: U.ShapesNet()(torch.zeros(1, 1, 8, 8))),
        (
            ValueError,
            "batch_size",
            lambda: U.train_classifier(
                U.DigitsNet(), np.zeros((2, 1, 8, 8)), np.zeros(2), 1, batch_size=0
            ),
        ),
        (
            ValueError,
            "square",
            lambda: U.train_classifier(
                U.DigitsNet(), np.zeros((2, 1, 8, 6)), np.zeros(2), 1, symmetric=True
            ),
        ),
    ]
    for error, words, call in cases:
        with pytest.raises(error, match=words):
            call()
