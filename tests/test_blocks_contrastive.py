"""Tests of cs231n_lib.blocks.contrastive: the encoder against its layers applied by hand, the
new augmentations against scipy.ndimage (bilinear sampling, Gaussian filters) and direct
formulas, the reused ones against blocks.augmentation with the same Generator state, the
trainers' seeding and their calls of the given loss, DINO's EMA, centring and sharpening
against direct code, the label subsets per class and the probe against scikit-learn
called directly.

nt_xent below is this file's own SimCLR loss (the notebook's students write theirs; the
package has none, since grading withholds every solution's name): it drives train_simclr
here and measured the numbers quoted in the notebook.
"""

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch_cases import perturbed

from cs231n_lib.blocks import augmentation as A
from cs231n_lib.blocks import contrastive as Cn
from cs231n_lib.blocks.training import epoch_batches


def images_of(seed, N=4, C=1, H=8, W=8):
    return torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(seed))


def nt_xent(out_left, out_right, tau):
    """SimCLR's loss: cross-entropy of each row's cosine similarities / tau (itself masked)
    with its positive, row k + N for k < N and k - N after, averaged over the 2N rows."""
    z = F.normalize(torch.cat([out_left, out_right]), dim=1)
    N = len(out_left)
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * N, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.cat([torch.arange(N, 2 * N), torch.arange(N)]))


def tiny_encoder(seed=0, projection_dim=8):
    torch.manual_seed(seed)
    return Cn.ContrastiveEncoder(widths=(4, 8), projection_dim=projection_dim, hidden_dim=8)


def stripes(seed, N=48, side=8):
    """Images with a horizontal or a vertical bright bar at a random place (class 0 or 1)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.2, size=(N, 1, side, side)).astype(np.float32)
    y = np.arange(N) % 2
    for n, where in enumerate(rng.integers(1, side - 1, size=N)):
        if y[n]:
            X[n, 0, :, where] = 1.0
        else:
            X[n, 0, where, :] = 1.0
    return X, y


# -- the encoder -----------------------------------------------------------------------------


def test_encoder_is_its_stages_then_global_pooling_then_the_projector():
    model = perturbed(
        Cn.ContrastiveEncoder(widths=(4, 6, 8), projection_dim=5, hidden_dim=7, convs_per_stage=2)
    )
    X = images_of(1, N=3, H=12, W=12)
    convs = [m for m in model.backbone if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 6, 6, 8, 8], "two convs per stage"
    out = X
    for layer in model.backbone:
        out = layer(out)
    assert out.shape == (3, 8, 3, 3), f"two 2x2 poolings of 12x12 give 3x3, got {out.shape}"
    with torch.no_grad():
        h = model.represent(X)
        z = model(X)
        assert torch.allclose(h, out.mean(dim=(2, 3)), atol=1e-6), "h is not the spatial mean"
        assert torch.allclose(z, model.projector(out.mean(dim=(2, 3))), atol=1e-6)
    assert h.shape == (3, model.representation_dim) == (3, 8) and z.shape == (3, 5)
    with pytest.raises(ValueError, match="channels"):
        model(images_of(0, C=3))


def test_dino_head_scores_are_cosines_with_unit_prototypes():
    model = perturbed(Cn.ContrastiveEncoder(widths=(4, 6), projection_dim=5, head="dino"))
    X = images_of(9, N=3)
    with torch.no_grad():
        h = model.represent(X)
        bottleneck = model.projector.mlp(h).numpy()
        prototypes = model.projector.prototypes.numpy()
        scores = model(X).numpy()
    assert scores.shape == (3, 5) and bottleneck.shape[1] == 64, (scores.shape, bottleneck.shape)
    for n in range(3):
        for k in range(5):
            cosine = bottleneck[n] @ prototypes[k]
            cosine /= np.linalg.norm(bottleneck[n]) * np.linalg.norm(prototypes[k])
            assert scores[n, k] == pytest.approx(cosine, abs=1e-5), f"score ({n}, {k})"
    with pytest.raises(ValueError, match="head"):
        Cn.ContrastiveEncoder(head="byol")


def test_features_are_the_representation_in_eval_mode_batched():
    model = perturbed(Cn.ContrastiveEncoder(widths=(4, 6)))
    model.train()
    X = images_of(2, N=11)
    got = Cn.features(model, X.numpy(), batch_size=4)
    assert not model.training, "features must put the encoder in eval mode"
    with torch.no_grad():
        expected = model.represent(X).numpy()
    assert got.shape == (11, 6) and got.dtype == np.float32, (got.shape, got.dtype)
    assert np.allclose(got, expected, atol=1e-6), "not encoder.represent in eval mode"


# -- augmentations ---------------------------------------------------------------------------


def test_resized_crop_samples_bilinearly_at_the_boxes_pixel_centres():
    X = images_of(3, N=3, C=2, H=7, W=9)
    boxes = np.array([[0.0, 0.0, 7.0, 9.0], [1.3, 2.1, 4.2, 5.5], [2.0, 0.5, 5.0, 3.0]])
    got = Cn.resized_crop_torch(X, boxes).numpy()
    H, W = 7, 9
    for n, (top, left, height, width) in enumerate(boxes):
        rows = top + (np.arange(H) + 0.5) * height / H - 0.5
        cols = left + (np.arange(W) + 0.5) * width / W - 0.5
        coords = np.stack(np.meshgrid(rows, cols, indexing="ij"))  # (2, H, W)
        for c in range(2):
            expected = scipy.ndimage.map_coordinates(
                X[n, c].double().numpy(), coords, order=1, mode="nearest"
            )
            assert np.allclose(got[n, c], expected, atol=1e-5), (
                f"image {n}, box {boxes[n]}: differs from bilinear sampling at the pixel "
                f"centres by {np.abs(got[n, c] - expected).max():.2e}"
            )
    assert np.allclose(got[0], X[0].numpy(), atol=1e-6), "the whole-image box changed it"


def test_random_resized_crop_boxes_follow_scale_and_ratio_inside_the_image():
    rng = np.random.default_rng(0)
    boxes = Cn.random_resized_crop_boxes(rng, 500, 32, 32, scale=(0.3, 0.8), ratio=(0.5, 2.0))
    top, left, height, width = boxes.T
    assert np.all(top >= 0) and np.all(left >= 0), "boxes start inside the image"
    assert np.all(top + height <= 32 + 1e-9) and np.all(left + width <= 32 + 1e-9)
    unclipped = (height < 32) & (width < 32)
    area = height * width / 32**2
    assert np.all((area[unclipped] >= 0.3 - 1e-9) & (area[unclipped] <= 0.8 + 1e-9)), (
        f"areas {area[unclipped].min():.3f}..{area[unclipped].max():.3f} of the image, not 0.3-0.8"
    )
    aspect = width / height
    assert np.all((aspect[unclipped] >= 0.5 - 1e-9) & (aspect[unclipped] <= 2 + 1e-9)), (
        f"width / height {aspect[unclipped].min():.3f}..{aspect[unclipped].max():.3f}, ratio 0.5-2"
    )
    assert aspect.min() < 0.6 and aspect.max() > 1.7, "the ratios do not span their range"
    square = Cn.random_resized_crop_boxes(rng, 50, 32, 32, scale=(0.25, 0.25), ratio=(1, 1))
    assert np.allclose(square[:, 2:], 16.0), "a quarter of the area with ratio 1 is 16x16"


def test_blur_per_image_matches_scipy_gaussian_filters():
    X = images_of(4, N=3, C=2, H=9, W=10)
    sigmas, radius = np.array([0.7, 0.0, 1.6]), 4
    got = Cn.gaussian_blur_per_image(X, sigmas, radius).numpy()
    for n, sigma in enumerate(sigmas):
        for c in range(2):
            x = X[n, c].double().numpy()
            if sigma == 0:
                expected = x
            else:
                expected = scipy.ndimage.gaussian_filter(x, sigma, mode="mirror", radius=radius)
            assert np.allclose(got[n, c], expected, atol=1e-5), (
                f"image {n} (sigma {sigma}): differs from scipy's mirrored Gaussian filter by "
                f"{np.abs(got[n, c] - expected).max():.2e}"
            )


def test_augment_reuses_05s_transforms_with_the_same_draws():
    X = images_of(5, N=6, H=12, W=12)
    for name, strength, reference in [
        ("crop", 1.0, lambda x, rng: A.random_crop_torch(x, 3, rng)),
        ("rotation", 1.0, lambda x, rng: A.random_rotation_torch(x, rng, 15.0)),
        ("rotation", 0.5, lambda x, rng: A.random_rotation_torch(x, rng, 7.5)),
        ("jitter", 1.0, lambda x, rng: A.color_jitter_torch(x, rng, brightness=0.4, contrast=0.4)),
    ]:
        got = Cn.augment(X, np.random.default_rng(7), [name], strength=strength)
        expected = reference(X, np.random.default_rng(7))
        assert torch.allclose(got, expected, atol=1e-6), f"{name} differs from 05's transform"


def test_augment_noise_blur_and_crop_follow_their_draws():
    X = images_of(6, N=5, H=10, W=10)
    settings = {"noise": {"std": 0.2}}
    got = Cn.augment(X, np.random.default_rng(1), settings)
    rng = np.random.default_rng(1)
    stds = rng.uniform(0, 0.2, size=5)
    noise = rng.standard_normal(size=(5, 1, 10, 10)) * stds[:, None, None, None]
    expected = np.clip(X.numpy() + noise, 0, 1)
    assert np.allclose(got.numpy(), expected, atol=1e-6), "noise: x + std_n N(0, 1), clipped"

    got = Cn.augment(X, np.random.default_rng(2), {"blur": {"p": 0.5, "sigma": (0.5, 1.0)}})
    rng = np.random.default_rng(2)
    sigmas = rng.uniform(0.5, 1.0, size=5) * (rng.random(5) < 0.5)
    assert 0 < np.count_nonzero(sigmas) < 5, "pick another seed: blur all or none"
    expected = Cn.gaussian_blur_per_image(X, sigmas, 3)
    assert torch.allclose(got, expected, atol=1e-6), "blur: sigma_n with probability p"

    got = Cn.augment(X, np.random.default_rng(3), ["resized_crop"])
    boxes = Cn.random_resized_crop_boxes(np.random.default_rng(3), 5, 10, 10, (0.5, 1.0))
    assert torch.allclose(got, Cn.resized_crop_torch(X, boxes), atol=1e-6)


def test_augment_runs_in_a_fixed_order_changes_nothing_at_strength_0_and_checks_names():
    X = images_of(7, N=8, H=16, W=16)
    X_before = X.clone()
    names = list(Cn.AUGMENTATIONS)
    forward = Cn.augment(X, np.random.default_rng(0), names)
    backward = Cn.augment(X, np.random.default_rng(0), names[::-1])
    assert torch.equal(forward, backward), "the order given must not matter"
    assert torch.equal(X, X_before), "augment changed its input"
    for name in names:
        one = Cn.augment(X, np.random.default_rng(0), [name])
        assert one.shape == X.shape and not torch.allclose(one, X), f"{name} changed nothing"
        assert one.min() >= 0 and one.max() <= 1, f"{name} left [0, 1]"
    assert torch.equal(Cn.augment(X, np.random.default_rng(0), names, strength=0.0), X)
    assert torch.equal(Cn.augment(X, np.random.default_rng(0), []), X)
    with pytest.raises(ValueError, match="unknown augmentations"):
        Cn.augment(X, np.random.default_rng(0), ["flip"])
    with pytest.raises(ValueError, match="takes settings"):
        Cn.augment(X, np.random.default_rng(0), {"noise": {"sigma": 1}})


def test_two_views_are_two_draws_from_one_generator():
    X = images_of(8, N=4, H=16, W=16)
    left, right = Cn.two_views(X, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    assert torch.equal(left, Cn.augment(X, rng)), "the left views are the first draw"
    assert torch.equal(right, Cn.augment(X, rng)), "the right views the second"
    assert not torch.allclose(left, right), "the two views are the same"


# -- SimCLR and supervised training ------------------------------------------------------------


def test_train_simclr_minimizes_the_given_loss_and_is_seeded():
    X, _ = stripes(0)
    calls = []

    def recording_loss(out_left, out_right, tau):
        calls.append((tuple(out_left.shape), tuple(out_right.shape), tau))
        return nt_xent(out_left, out_right, tau)

    runs = []
    for seed in (0, 0, 1):
        calls.clear()
        encoder = tiny_encoder()
        state = torch.get_rng_state()
        history = Cn.train_simclr(
            encoder,
            X,
            recording_loss,
            25,
            batch_size=16,
            learning_rate=1e-2,
            tau=0.5,
            augmentations=["crop", "noise"],
            seed=seed,
            progress=False,
        )
        assert torch.equal(torch.get_rng_state(), state), "the caller's random state changed"
        assert calls == [((16, 8), (16, 8), 0.5)] * 25, f"loss_fn calls: {calls[:2]}..."
        runs.append(history["loss"])
    assert not encoder.training, "train_simclr should leave the encoder in eval mode"
    assert runs[0] == runs[1], "two runs with the same seed gave different losses"
    assert runs[0] != runs[2], "seeds 0 and 1 gave the same losses: is seed used?"
    first, last = np.mean(runs[0][:5]), np.mean(runs[0][-5:])
    assert last < first - 0.3, f"the loss went from {first:.3f} to {last:.3f} in 25 steps"


def test_train_simclr_passes_two_views_of_the_same_images():
    X, _ = stripes(1, N=16)
    encoder = tiny_encoder()
    seen = []
    encoder.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach()))
    Cn.train_simclr(
        encoder, X, nt_xent, 1, batch_size=16, augmentations=["crop"], seed=3, progress=False
    )
    batch = epoch_batches(16, 16, torch.Generator().manual_seed(3))()
    left, right = Cn.two_views(torch.as_tensor(X)[batch], np.random.default_rng(3), ["crop"])
    assert torch.equal(seen[0], left) and torch.equal(seen[1], right), (
        "the encoder did not see two_views of the seeded batch, left first"
    )


def test_train_simclr_refuses_a_loss_without_gradient():
    X, _ = stripes(2, N=16)
    with pytest.raises(ValueError, match="gradient"):
        Cn.train_simclr(
            tiny_encoder(),
            X,
            lambda a, b, tau: nt_xent(a, b, tau).detach(),
            1,
            batch_size=8,
            progress=False,
        )


def test_train_supervised_learns_the_labels_through_the_backbone():
    X, y = stripes(3, N=64)
    runs = []
    for _ in range(2):
        encoder = tiny_encoder()
        projector_before = [p.clone() for p in encoder.projector.parameters()]
        backbone_before = [p.clone() for p in encoder.backbone.parameters()]
        history = Cn.train_supervised(
            encoder, X, y, 40, batch_size=16, learning_rate=1e-2, seed=0, progress=False
        )
        runs.append(history["loss"])
    assert runs[0] == runs[1], "two runs with the same seed gave different losses"
    projector = zip(projector_before, encoder.projector.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in projector), "the projector must stay as it was"
    backbone = zip(backbone_before, encoder.backbone.parameters(), strict=True)
    assert not any(torch.equal(a, b) for a, b in backbone), "the backbone must be trained"
    with torch.no_grad():
        scores = history["head"](encoder.represent(torch.as_tensor(X)))
    accuracy = float((scores.argmax(1).numpy() == y).mean())
    assert scores.shape == (64, 2) and accuracy > 0.9, f"training accuracy {accuracy:.2f}"


# -- DINO ------------------------------------------------------------------------------------------


def test_ema_update_is_the_moving_average_of_the_parameters():
    teacher, student = perturbed(tiny_encoder(0), seed=1), perturbed(tiny_encoder(1), seed=2)
    before = [p.clone() for p in teacher.parameters()]
    buffers = [b.clone() for b in teacher.buffers()]
    Cn.ema_update(teacher, student, 0.9)
    for t, t0, s in zip(teacher.parameters(), before, student.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * s, atol=1e-6), "not 0.9 teacher + 0.1 student"
    assert all(torch.equal(a, b) for a, b in zip(buffers, teacher.buffers(), strict=True))
    Cn.ema_update(teacher, student, 0.0)
    assert all(
        torch.equal(t, s) for t, s in zip(teacher.parameters(), student.parameters(), strict=True)
    )


def test_dino_targets_centre_then_sharpen_and_the_loss_is_their_cross_entropy():
    rng = np.random.default_rng(0)
    out = rng.normal(size=(5, 4))
    center = rng.normal(size=4)
    student = rng.normal(size=(5, 4))
    got = Cn.dino_targets(torch.as_tensor(out), torch.as_tensor(center), 0.3).numpy()
    loss = 0.0
    for n in range(5):
        e = np.exp((out[n] - center) / 0.3)
        assert np.allclose(got[n], e / e.sum(), atol=1e-10), f"row {n}: not softmax((t - c) / T)"
        log_p = student[n] / 0.1 - np.log(np.exp(student[n] / 0.1).sum())
        loss -= (got[n] * log_p).sum() / 5
    got_loss = Cn.dino_loss(torch.as_tensor(student), torch.as_tensor(got), 0.1)
    assert float(got_loss) == pytest.approx(loss, rel=1e-9), "not the mean cross-entropy"
    sharp = Cn.dino_targets(torch.as_tensor(out), torch.as_tensor(center), 0.01).numpy()
    assert sharp.max(1).min() > got.max(1).min(), "a lower temperature must sharpen"


def test_train_dino_one_step_follows_the_algorithm():
    X, _ = stripes(4, N=16)
    student = tiny_encoder(2, projection_dim=6)
    start = tiny_encoder(2, projection_dim=6)  # the same initial weights
    out = Cn.train_dino(
        student,
        X,
        1,
        batch_size=16,
        augmentations=["crop"],
        seed=5,
        student_temperature=0.2,
        teacher_temperature=0.05,
        center_momentum=0.8,
        teacher_momentum=0.9,
        progress=False,
    )
    batch = epoch_batches(16, 16, torch.Generator().manual_seed(5))()
    v1, v2 = Cn.two_views(torch.as_tensor(X)[batch], np.random.default_rng(5), ["crop"])
    start.train()
    with torch.no_grad():
        t1, t2, s1, s2 = start(v1), start(v2), start(v1), start(v2)
    p1, p2 = F.softmax(t1 / 0.05, dim=1), F.softmax(t2 / 0.05, dim=1)  # the centre starts at 0
    expected = (
        -(
            (p1 * F.log_softmax(s2 / 0.2, dim=1)).sum(1).mean()
            + (p2 * F.log_softmax(s1 / 0.2, dim=1)).sum(1).mean()
        )
        / 2
    )
    assert out["loss"][0] == pytest.approx(float(expected), rel=1e-5), "the first step's loss"
    assert torch.allclose(out["center"], 0.2 * torch.cat([t1, t2]).mean(0), atol=1e-6), (
        "after one step the centre is (1 - center_momentum) times the teacher's mean output"
    )
    teacher = out["teacher"]
    for t, t0, s in zip(
        teacher.parameters(), start.parameters(), student.parameters(), strict=True
    ):
        assert not t.requires_grad, "the teacher must get no gradients"
        assert torch.allclose(t, 0.9 * t0 + 0.1 * s, atol=1e-6), "the teacher is not the EMA"
    assert not teacher.training and len(out["entropy"]) == len(out["mean_entropy"]) == 1


def test_train_dino_is_seeded_and_its_teacher_follows_the_student():
    X, _ = stripes(5, N=32)
    runs = [
        Cn.train_dino(
            tiny_encoder(3), X, 8, batch_size=16, augmentations=["noise"], seed=seed, progress=False
        )
        for seed in (0, 0, 1)
    ]
    assert runs[0]["loss"] == runs[1]["loss"], "two runs with the same seed differ"
    assert runs[0]["loss"] != runs[2]["loss"], "seeds 0 and 1 gave the same losses"
    start = tiny_encoder(3)
    teacher = runs[0]["teacher"]
    moved = [
        not torch.equal(a, b) for a, b in zip(teacher.parameters(), start.parameters(), strict=True)
    ]
    assert all(moved), "some teacher parameters never moved"


# -- the linear probe ----------------------------------------------------------------------------


def test_label_subset_draws_a_share_of_each_class():
    y = np.repeat(np.arange(4), [50, 20, 7, 1])
    np.random.default_rng(0).shuffle(y)
    chosen = Cn.label_subset(y, 0.1, seed=3)
    counts = np.bincount(y[chosen], minlength=4)
    assert counts.tolist() == [5, 2, 1, 1], f"per class round(0.1 n_c), at least 1: {counts}"
    assert np.all(np.diff(chosen) > 0), "sorted indices without repeats"
    assert np.array_equal(chosen, Cn.label_subset(y, 0.1, seed=3)), "not seeded"
    others = [Cn.label_subset(y, 0.1, seed=s) for s in range(4, 8)]
    assert any(not np.array_equal(chosen, o) for o in others), "every seed gives one subset"
    assert np.array_equal(Cn.label_subset(y, 1.0), np.arange(len(y))), "fraction 1: all"
    with pytest.raises(ValueError, match="fraction"):
        Cn.label_subset(y, 0.0)


def test_linear_probe_is_a_standardized_logistic_regression_on_the_subset():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=300)
    feats = rng.normal(size=(300, 6)) * [1, 10, 100, 1, 1, 1] + np.eye(3)[y] @ rng.normal(
        size=(3, 6)
    )
    y_test = rng.integers(0, 3, size=100)
    test = rng.normal(size=(100, 6)) * [1, 10, 100, 1, 1, 1] + np.eye(3)[y_test] @ rng.normal(
        size=(3, 6)
    )
    for fraction in (0.1, 1.0):
        chosen = Cn.label_subset(y, fraction, seed=2)
        scaler = StandardScaler().fit(feats[chosen])
        classifier = LogisticRegression(C=0.5, max_iter=2000)
        classifier.fit(scaler.transform(feats[chosen]), y[chosen])
        expected = float(np.mean(classifier.predict(scaler.transform(test)) == y_test))
        got = Cn.linear_probe(feats, y, test, y_test, fraction, seed=2, C=0.5)
        assert got == pytest.approx(expected), f"fraction {fraction}: {got} vs {expected}"
    separable = np.eye(3)[y] * 5 + rng.normal(scale=0.1, size=(300, 3))
    assert Cn.linear_probe(separable, y, separable, y) == 1.0


def test_recipes_are_the_trainers_arguments():
    X, y = stripes(6, N=16)
    for name, recipe in Cn.RECIPES.items():
        quick = {**recipe, "num_steps": 1, "batch_size": 8, "progress": False}
        if name == "supervised":
            Cn.train_supervised(tiny_encoder(), X, y, **quick)
        elif name == "dino":
            encoder = Cn.ContrastiveEncoder(widths=(4,), projection_dim=8, head="dino")
            Cn.train_dino(encoder, X, **quick)
        else:
            Cn.train_simclr(tiny_encoder(), X, nt_xent, **{"tau": 0.2, **quick})
