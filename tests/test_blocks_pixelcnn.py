"""cs231n_lib.blocks.pixelcnn: shapes, the causality of the model's logits w.r.t. its input
(autograd Jacobian), a custom mask_fn, bits/dim against a closed form, raster-order
sampling (a spy model records what each pass sees), completion of known pixels, and early
stopping restoring the best state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cs231n_lib.blocks import pixelcnn as P
from cs231n_lib.layers.masked_conv import pixelcnn_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kwargs) -> P.PixelCNN:
    torch.manual_seed(0)
    return P.PixelCNN(
        channels=kwargs.pop("channels", 8), num_layers=kwargs.pop("num_layers", 2), **kwargs
    )


def random_binary(shape, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < 0.4).astype(np.float32)


def jacobian(model: nn.Module, height: int, width: int, seed: int = 3) -> np.ndarray:
    """J[i, j] = d logit_i / d input_j over the raster indices, at a random binary image
    (the input enters as a float, so the derivative exists everywhere)."""
    x = torch.as_tensor(random_binary((1, 1, height, width), seed=seed), dtype=torch.float32)
    x.requires_grad_(True)
    logits = model(x).reshape(-1)
    rows = []
    for i in range(height * width):
        (grad,) = torch.autograd.grad(logits[i], x, retain_graph=True)
        rows.append(grad.reshape(-1).numpy())
    return np.stack(rows)


@pytest.mark.parametrize("size", [(8, 8), (5, 7)])
def test_logits_have_the_image_shape(size):
    model = tiny()
    X = torch.as_tensor(random_binary((3, 1, *size)))
    assert model(X).shape == (3, 1, *size)


@pytest.mark.parametrize(("first_kernel", "kernel_size"), [(7, 3), (3, 5)])
def test_logit_i_depends_only_on_pixels_before_i(first_kernel, kernel_size):
    model = tiny(first_kernel=first_kernel, kernel_size=kernel_size, num_layers=3)
    for layer in model.modules():  # bigger weights, so that no dependence hides below 1e-12
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.5)
    # |J| summed over a few images: a ReLU that is off at one image hides a path there.
    J = sum(np.abs(jacobian(model, 6, 6, seed)) for seed in range(4))
    future = np.triu(np.ones_like(J, dtype=bool))  # j >= i
    assert J[future].max() == 0.0, "a logit depends on its own or a later pixel"
    # ... and it does see the past: the pixel to the left and the one above.
    for i in range(1, 36):
        assert J[i, i - 1] != 0.0 or i % 6 == 0, f"logit {i} ignores the pixel left of it"
        if i >= 6:
            assert J[i, i - 6] != 0.0, f"logit {i} ignores the pixel above it"


def test_wrong_mask_breaks_causality_and_the_jacobian_test_sees_it():
    def swapped(kernel_size, mask_type, in_channels, out_channels):
        return pixelcnn_mask(
            kernel_size, "B" if mask_type == "A" else "A", in_channels, out_channels
        )

    J = jacobian(tiny(mask_fn=swapped), 4, 4)
    assert np.abs(np.diag(J)).max() > 0, "mask B first must let logit i see pixel i"


def test_mask_fn_is_used_and_checked():
    calls = []

    def recording(kernel_size, mask_type, in_channels, out_channels):
        calls.append((kernel_size, mask_type, in_channels, out_channels))
        return pixelcnn_mask(kernel_size, mask_type, in_channels, out_channels)

    model = tiny(mask_fn=recording)
    assert calls == [(7, "A", 1, 8), (3, "B", 8, 8), (3, "B", 8, 8)]
    np.testing.assert_array_equal(model.first.mask.numpy(), pixelcnn_mask(7, "A", 1, 8))
    with pytest.raises(ValueError, match="expected"):
        P.MaskedConv2d(2, 3, 3, "A", mask_fn=lambda k, t, c, f: np.ones((k, k)))


def test_masked_weights_get_no_gradient():
    model = tiny()
    X = torch.as_tensor(random_binary((4, 1, 8, 8)))
    nn.functional.binary_cross_entropy_with_logits(model(X), X).backward()
    grad = model.first.weight.grad
    assert torch.all(grad[model.first.mask == 0] == 0)
    assert torch.any(grad[model.first.mask == 1] != 0)


def test_bits_per_dim_is_the_mean_bernoulli_nll_in_bits():
    model = tiny()
    X = random_binary((5, 1, 8, 8))
    with torch.no_grad():
        p = torch.sigmoid(model(torch.as_tensor(X))).double().numpy()
    expected = -(X * np.log2(p) + (1 - X) * np.log2(1 - p)).reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(P.bits_per_dim(model, X, batch_size=2), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="binarize"):
        P.bits_per_dim(model, X * 0.5)


def test_binarize_thresholds():
    out = P.binarize(np.array([[[0.2, 0.5], [0.51, 1.0]]]))
    np.testing.assert_array_equal(out, [[[[0, 0], [1, 1]]]])
    assert out.shape == (1, 1, 2, 2) and out.dtype == np.float32


class Spy(nn.Module):
    """A causal 'model' whose logit at pixel k is +20 if the pixel before k (raster) is 0,
    else -20, so the most likely image alternates; it records every input it sees."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the sampler a device
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        flat = x.flatten(1)
        previous = torch.cat([torch.ones_like(flat[:, :1]), flat[:, :-1]], dim=1)
        return torch.where(previous == 0, 20.0, -20.0).reshape(x.shape)


def test_sampling_draws_pixels_in_raster_order():
    spy = Spy()
    samples = P.sample(spy, 3, image_shape=(3, 4), seed=1)
    assert len(spy.seen) == 12, "one forward pass per pixel"
    flat = samples.reshape(3, -1)
    for k, seen in enumerate(spy.seen):
        seen = seen.reshape(3, -1).numpy()
        np.testing.assert_array_equal(seen[:, :k], flat[:, :k], err_msg=f"pass {k}: the past")
        assert np.all(seen[:, k:] == 0), f"pass {k} saw pixel {k} or later already drawn"
    np.testing.assert_array_equal(flat, np.tile([0, 1], 6)[None].repeat(3, 0))


def test_sampling_is_seeded_and_temperature_sharpens():
    model = tiny()
    a, b = P.sample(model, 4, seed=5), P.sample(model, 4, seed=5)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0} and a.shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="temperature"):
        P.sample(model, 1, temperature=0.0)


def test_completion_keeps_the_known_pixels_and_skips_their_passes():
    spy = Spy()
    given = random_binary((2, 1, 4, 4), seed=2)
    known = np.zeros((4, 4), dtype=bool)
    known[:2] = True  # the upper half
    out = P.sample(spy, 2, image_shape=(4, 4), given=given, known=known)
    np.testing.assert_array_equal(out[:, :, :2], given[:, :, :2])
    assert len(spy.seen) == 8, "known pixels need no forward pass"
    flat = out.reshape(2, -1)
    for k in range(8, 16):  # each drawn pixel follows the spy's rule for its predecessor
        np.testing.assert_array_equal(flat[:, k], (flat[:, k - 1] == 0).astype(np.float32))


def test_early_stopping_restores_the_best_state():
    X = random_binary((16, 1, 6, 6), seed=4)
    X_val = random_binary((16, 1, 6, 6), seed=5)  # unrelated noise: it overfits at once
    model = tiny(channels=16)
    history = P.train_pixelcnn(
        model, X, X_val, num_epochs=40, batch_size=4, learning_rate=1e-2, patience=3, progress=False
    )
    best = history["best_epoch"]
    assert history["stopped_early"] and history["epochs"] == best + 4
    assert history["val_bits"][best] == min(history["val_bits"])
    assert min(history["val_bits"][best + 1 :]) > history["val_bits"][best]
    restored = float(P.bits_per_dim(model, X_val).mean())
    assert math.isclose(restored, history["best_val_bits"], rel_tol=1e-6), (
        "the model does not hold the best validation state"
    )
    assert history["train_bits"][-1] < history["train_bits"][0]


def test_training_is_seeded():
    X = random_binary((8, 1, 5, 5), seed=6)
    runs = []
    for _ in range(2):
        model = tiny()
        runs.append(P.train_pixelcnn(model, X, X, num_epochs=2, batch_size=4, progress=False))
    assert runs[0]["val_bits"] == runs[1]["val_bits"]
