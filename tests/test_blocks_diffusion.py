"""cs231n_lib.blocks.diffusion: the three schedules against their alphabar formulas, the
schedule dict, the denoisers' shapes and label handling, train_denoiser lowering the loss of
the function it is given (deterministic by seed, label dropout), and the samplers: the
ancestral loop calling p_sample at every step, DDIM with a perfect noise predictor for a
point mass returning the point, its steps and its determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.blocks import diffusion as D
from cs231n_lib.blocks.toy2d import ring_of_gaussians

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def q_sample(x_start, t, noise, schedule):
    """The test's own forward process."""
    alphabar = schedule["alphas_cumprod"][t].reshape(-1, *([1] * (x_start.dim() - 1)))
    return alphabar.sqrt() * x_start + (1 - alphabar).sqrt() * noise


def loss_fn(eps_model, x_start, t, noise, schedule):
    return F.mse_loss(eps_model(q_sample(x_start, t, noise, schedule), t), noise)


def p_sample(eps_fn, x_t, t, schedule, noise):
    beta, alpha = schedule["betas"][t], schedule["alphas"][t]
    alphabar = schedule["alphas_cumprod"][t]
    eps = eps_fn(x_t, torch.full((len(x_t),), t, dtype=torch.long))
    mean = (x_t - beta / (1 - alphabar).sqrt() * eps) / alpha.sqrt()
    if t == 0:
        return mean
    variance = (1 - schedule["alphas_cumprod"][t - 1]) / (1 - alphabar) * beta
    return mean + variance.sqrt() * noise


def test_linear_schedule_is_ddpm_at_1000_steps_and_scaled_for_fewer():
    betas = D.linear_beta_schedule(1000)
    assert betas.shape == (1000,) and betas.dtype == torch.float64
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    assert torch.all(betas[1:] > betas[:-1])
    short = D.linear_beta_schedule(100)
    assert short[0].item() == pytest.approx(1e-3) and short[-1].item() == pytest.approx(0.2)


def test_cosine_schedule_follows_its_alphabar_formula():
    T, s = 50, 0.008
    alphabar = torch.cumprod(1 - D.cosine_beta_schedule(T, s=s), 0).numpy()
    u = np.arange(1, T + 1) / T
    f = np.cos((u + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
    # The last beta is clipped to 0.999 (the formula's alphabar reaches 0 at t = T).
    np.testing.assert_allclose(alphabar[:-1], f[:-1], rtol=1e-10)
    assert 0 < alphabar[-1] < 1e-3


def test_sigmoid_schedule_follows_its_alphabar_formula():
    T, start, end = 40, -3.0, 3.0
    alphabar = torch.cumprod(1 - D.sigmoid_beta_schedule(T, start, end), 0).numpy()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    u = np.arange(1, T + 1) / T
    f = (sig(end) - sig(start + u * (end - start))) / (sig(end) - sig(start))
    np.testing.assert_allclose(alphabar[:-1], f[:-1], rtol=1e-9)
    assert np.all(np.diff(alphabar) < 0)


@pytest.mark.parametrize("name", sorted(D.SCHEDULES))
def test_every_schedule_ends_near_pure_noise(name):
    betas = D.SCHEDULES[name](200)
    assert torch.all((betas > 0) & (betas < 1))
    assert torch.cumprod(1 - betas, 0)[-1] < 1e-3


@pytest.mark.parametrize("bad", [1, 0, 2.5, True])
def test_bad_step_counts_are_refused(bad):
    with pytest.raises(ValueError, match="num_steps"):
        D.linear_beta_schedule(bad)


def test_make_schedule_holds_alphas_and_their_cumulative_product():
    schedule = D.make_schedule(torch.tensor([0.1, 0.2, 0.5]), dtype=torch.float64)
    np.testing.assert_allclose(schedule["alphas"], [0.9, 0.8, 0.5])
    np.testing.assert_allclose(schedule["alphas_cumprod"], [0.9, 0.72, 0.36])
    assert D.make_schedule([0.1, 0.2])["betas"].dtype == torch.float32
    with pytest.raises(ValueError, match="betas"):
        D.make_schedule([0.1, 1.0])


def test_timestep_embedding_is_sin_and_cos_of_the_step():
    emb = D.timestep_embedding(torch.tensor([0, 5]), 8)
    assert emb.shape == (2, 8)
    np.testing.assert_allclose(emb[0], [0, 0, 0, 0, 1, 1, 1, 1], atol=1e-7)
    assert emb[1, 0].item() == pytest.approx(math.sin(5.0), abs=1e-6)


def test_denoiser_shapes_and_the_null_label():
    torch.manual_seed(0)
    points = D.PointDenoiser(hidden_dim=16, num_steps=10)
    assert points(torch.randn(4, 2), torch.arange(4)).shape == (4, 2)
    unet = D.DigitUNet(channels=8, num_classes=10, num_steps=20)
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 5, 19])
    assert unet(x, t, torch.tensor([1, 2, 3])).shape == (3, 1, 8, 8)
    assert unet.null_label == 10
    null = torch.full((3,), 10)
    assert torch.allclose(unet(x, t, None), unet(x, t, null))
    assert not torch.allclose(unet(x, t, torch.tensor([1, 1, 1])), unet(x, t, null))
    with pytest.raises(ValueError, match="unconditional"):
        D.DigitUNet(channels=8, num_classes=0)(x, t, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="channels"):
        D.DigitUNet(channels=12)


def test_train_denoiser_lowers_the_loss_and_is_deterministic():
    schedule = D.make_schedule(D.linear_beta_schedule(20))
    points = ring_of_gaussians(1000, std=0.1, seed=0)
    histories, outputs = [], []
    for _ in range(2):
        torch.manual_seed(0)
        model = D.PointDenoiser(hidden_dim=32, num_steps=20)
        histories.append(
            D.train_denoiser(
                model, points, schedule, loss_fn, num_steps=300, batch_size=128, progress=False
            )
        )
        outputs.append(model(torch.zeros(2, 2), torch.tensor([3, 15])))
    loss = np.array(histories[0]["loss"])
    assert len(loss) == 300 and histories[0]["steps"] == 300
    assert loss[-50:].mean() < 0.8 * loss[:20].mean()
    np.testing.assert_array_equal(histories[0]["loss"], histories[1]["loss"])
    assert torch.equal(outputs[0], outputs[1])


def test_label_dropout_passes_the_null_label():
    seen = []

    class Recorder(torch.nn.Module):
        null_label = 10

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, y):
            seen.append(y.clone())
            return x * self.w

    X, y = torch.zeros(50, 2).numpy(), np.arange(50) % 10
    schedule = D.make_schedule(D.linear_beta_schedule(10))
    D.train_denoiser(
        Recorder(), X, schedule, loss_fn, y=y, label_dropout=0.5, num_steps=20, progress=False
    )
    labels = torch.cat(seen)
    null_share = (labels == 10).float().mean().item()
    assert 0.4 < null_share < 0.6 and set(labels.tolist()) <= set(range(11))
    with pytest.raises(ValueError, match="labels"):
        D.train_denoiser(Recorder(), X, schedule, loss_fn, label_dropout=0.1, progress=False)


def test_ancestral_sampler_calls_p_sample_from_the_last_step_to_zero():
    steps = []

    def recording_p_sample(eps_fn, x_t, t, schedule, noise):
        steps.append(t)
        assert noise.shape == x_t.shape
        return x_t * 0.5

    schedule = D.make_schedule(D.linear_beta_schedule(7))
    x, path = D.sample_ancestral(
        recording_p_sample, lambda x, t: x, (3, 2), schedule, seed=1, return_path=True
    )
    assert steps == list(range(6, -1, -1)) and len(path) == 7
    start = torch.randn((3, 2), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(x, start * 0.5**7)


def test_ancestral_sampler_with_the_exact_noise_of_a_point_mass_returns_the_point():
    # For data x0 = c, the true noise of x_t is (x_t - sqrt(ab) c) / sqrt(1 - ab).
    T, c = 30, torch.tensor([0.7, -0.3])
    schedule = D.make_schedule(D.linear_beta_schedule(T), dtype=torch.float64)
    alphabar = schedule["alphas_cumprod"]

    def exact_eps(x, t):
        ab = alphabar[t][:, None]
        return (x - ab.sqrt() * c) / (1 - ab).sqrt()

    x = D.sample_ancestral(p_sample, exact_eps, (5, 2), schedule, seed=0)
    assert torch.allclose(x.float(), c.expand(5, 2), atol=1e-5)
    y = D.ddim_sample(exact_eps, (5, 2), schedule, num_sample_steps=4, seed=0, clip=None)
    assert torch.allclose(y.float(), c.expand(5, 2), atol=1e-5)


def test_ddim_steps_and_determinism():
    assert D.ddim_timesteps(100, 5) == [99, 74, 50, 25, 0]
    assert D.ddim_timesteps(10, 10) == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="num_sample_steps"):
        D.ddim_timesteps(10, 11)
    calls = []

    def eps_fn(x, t):
        calls.append(int(t[0]))
        return 0.1 * x

    schedule = D.make_schedule(D.cosine_beta_schedule(50))
    a = D.ddim_sample(eps_fn, (4, 1, 8, 8), schedule, num_sample_steps=6, seed=2)
    b = D.ddim_sample(eps_fn, (4, 1, 8, 8), schedule, num_sample_steps=6, seed=2)
    assert calls == D.ddim_timesteps(50, 6) * 2
    assert torch.equal(a, b) and a.abs().max() <= 1.0 + 1e-6  # x0 clipped at the end
