"""cs231n_lib.blocks.vae: shapes of the (conditional) VAE, its label checks, negative_elbo
against torch.distributions, sample_gaussian's gradients and moments, train_vae lowering the
held-out loss with the functions it is given, early stopping, and determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from cs231n_lib.blocks import vae as V
from cs231n_lib.data import digits

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def binary_digits():
    data = digits.load(num_train=200, num_val=100, num_test=100, seed=0, dtype=np.float32)
    return {k: (v > 0.5).astype(np.float32) if k.startswith("X") else v for k, v in data.items()}


def test_shapes_of_the_vae_and_the_conditional_vae():
    torch.manual_seed(0)
    model = V.VAE(input_dim=64, hidden_dim=16, latent_dim=3)
    x_hat, mu, logvar = model(torch.rand(5, 64), V.sample_gaussian)
    assert x_hat.shape == (5, 64) and mu.shape == (5, 3) and logvar.shape == (5, 3)
    assert torch.all((x_hat > 0) & (x_hat < 1))
    cvae = V.VAE(input_dim=64, hidden_dim=16, latent_dim=3, num_classes=10)
    assert cvae.encoder[0].in_features == 74 and cvae.decoder[0].in_features == 13
    x_hat, mu, _ = cvae(torch.rand(5, 1, 8, 8), V.sample_gaussian, torch.arange(5))
    assert x_hat.shape == (5, 64) and mu.shape == (5, 3)


def test_the_label_changes_the_conditional_decoding():
    torch.manual_seed(0)
    cvae = V.VAE(hidden_dim=16, latent_dim=2, num_classes=10)
    z = torch.zeros(2, 2)
    out = cvae.decode(z, torch.tensor([1, 7]))
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize(
    ("num_classes", "y", "message"),
    [(0, torch.zeros(3, dtype=torch.long), "unconditional"), (10, None, "needs labels")],
)
def test_labels_must_match_the_model(num_classes, y, message):
    model = V.VAE(hidden_dim=8, latent_dim=2, num_classes=num_classes)
    with pytest.raises(ValueError, match=message):
        model(torch.rand(3, 64), V.sample_gaussian, y)


@pytest.mark.parametrize("bad", [{"latent_dim": 0}, {"hidden_dim": 2.5}, {"num_classes": -1}])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        V.VAE(**bad)


def test_negative_elbo_against_torch_distributions():
    rng = np.random.default_rng(0)
    x_hat = torch.tensor(1 / (1 + np.exp(-rng.normal(size=(6, 10)))))
    x = torch.tensor((rng.random((6, 10)) < 0.5).astype(np.float64))
    mu, logvar = torch.tensor(rng.normal(size=(6, 3))), torch.tensor(rng.normal(size=(6, 3)))
    log_likelihood = Bernoulli(probs=x_hat).log_prob(x).sum()
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum()
    expected = (kl - log_likelihood) / 6
    assert torch.allclose(V.negative_elbo(x_hat, x, mu, logvar), expected, rtol=1e-6)


def test_sample_gaussian_gradients_and_moments():
    torch.manual_seed(0)
    mu = torch.tensor([[1.0, -2.0]], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([[0.5, -1.0]], dtype=torch.float64, requires_grad=True)
    z = V.sample_gaussian(mu, logvar)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))
    sigma_eps = (z - mu).detach()
    assert torch.allclose(logvar.grad, 0.5 * sigma_eps)
    many = V.sample_gaussian(torch.full((20000, 1), 3.0), torch.full((20000, 1), np.log(4.0)))
    assert abs(many.mean().item() - 3.0) < 6 * 2 / np.sqrt(20000)
    assert abs(many.var().item() / 4.0 - 1) < 6 * np.sqrt(2 / 20000)


def test_training_lowers_the_held_out_loss_and_uses_the_functions_given(binary_digits):
    calls = {"sample": 0, "loss": 0}

    def counting_sample(mu, logvar):
        calls["sample"] += 1
        return V.sample_gaussian(mu, logvar)

    def counting_loss(x_hat, x, mu, logvar):
        calls["loss"] += 1
        return V.negative_elbo(x_hat, x, mu, logvar)

    torch.manual_seed(0)
    model = V.VAE(hidden_dim=64, latent_dim=4)
    X, X_test = binary_digits["X_train"], binary_digits["X_test"]
    before = V.evaluate_vae(model, X_test, num_samples=2)
    history = V.train_vae(
        model, X, counting_sample, counting_loss, num_epochs=15, batch_size=50, progress=False
    )
    after = V.evaluate_vae(model, X_test, num_samples=2)
    assert history["steps"] == 15 * 4 and len(history["loss"]) == 15
    assert calls["loss"] >= 60 and calls["sample"] >= 60
    assert after < before - 10, (before, after)  # about 44 nats -> about 27
    assert history["loss"][-1] < history["loss"][0]


def test_early_stopping_keeps_the_best_validation_epoch(binary_digits):
    torch.manual_seed(0)
    model = V.VAE(hidden_dim=32, latent_dim=2)
    X = binary_digits["X_train"]
    X_val = 1.0 - X[:50]  # inverted digits: the better the model learns X, the worse they score
    history = V.train_vae(model, X, X_val=X_val, num_epochs=6, batch_size=50, progress=False)
    best = history["best_epoch"]
    assert history["val"][best] == min(history["val"]) and len(history["val"]) == 6
    assert best < 5, history["val"]  # so the final weights are not the kept ones
    # The kept weights give the best epoch's validation loss (evaluate_vae with its seed).
    again = V.evaluate_vae(model, X_val, num_samples=1, seed=best)
    assert again == pytest.approx(history["val"][best], rel=1e-6)


def test_training_is_deterministic_by_seed(binary_digits):
    X = binary_digits["X_train"][:100]
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = V.VAE(hidden_dim=16, latent_dim=2)
        V.train_vae(model, X, num_epochs=2, batch_size=25, seed=3, progress=False)
        runs.append(V.generate(model, 5, seed=4))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_latent_means_decode_and_generate_shapes(binary_digits):
    torch.manual_seed(0)
    cvae = V.VAE(hidden_dim=16, latent_dim=3, num_classes=10)
    X, y = binary_digits["X_test"][:7], binary_digits["y_test"][:7]
    codes = V.latent_means(cvae, X, y)
    assert codes.shape == (7, 3) and codes.dtype == np.float64
    assert V.decode_latents(cvae, codes, y).shape == (7, 64)
    samples = V.generate(cvae, 4, y=np.array([0, 1, 2, 3]), seed=0)
    assert samples.shape == (4, 64) and np.all((samples > 0) & (samples < 1))
    with pytest.raises(ValueError, match="num_samples"):
        V.evaluate_vae(cvae, X, y=y, num_samples=0)


def test_importance_nll_matches_the_integral_over_a_one_dimensional_latent():
    torch.manual_seed(0)
    model = V.VAE(input_dim=3, hidden_dim=8, latent_dim=1).double()
    X = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    grid = torch.linspace(-9.0, 9.0, 20001, dtype=torch.float64)[:, None]  # (G, 1)
    with torch.no_grad():
        x_hat = model.decode(grid)  # (G, 3)
    prior = torch.exp(-0.5 * grid[:, 0] ** 2) / np.sqrt(2 * np.pi)
    expected = []
    for x in torch.tensor(X):
        likelihood = torch.prod(x_hat**x * (1 - x_hat) ** (1 - x), dim=1)
        expected.append(-torch.log(torch.trapezoid(likelihood * prior, grid[:, 0])).item())
    model = model.float()
    estimate = V.importance_nll(model, X, num_samples=20000)
    assert estimate == pytest.approx(np.mean(expected), abs=0.02)


def test_importance_nll_is_below_the_negative_elbo(binary_digits):
    torch.manual_seed(0)
    model = V.VAE(hidden_dim=32, latent_dim=4)
    X = binary_digits["X_train"][:100]
    V.train_vae(model, X, num_epochs=5, batch_size=25, progress=False)
    elbo = V.evaluate_vae(model, X, num_samples=20)
    single = np.mean([V.importance_nll(model, X, num_samples=1, seed=s) for s in range(20)])
    assert single == pytest.approx(elbo, abs=0.3)  # K = 1 is the ELBO itself
    assert V.importance_nll(model, X, num_samples=100) < elbo - 0.3
