"""cs231n_lib.blocks.gan: the ring of Gaussians and its mode coverage, the shapes of the MLP
and DCGAN players, train_gan calling the losses it is given (k discriminator steps, fakes
detached for D), learning a 2-D Gaussian with the standard losses and not with swapped
labels, determinism by seed, and the helpers (generate, to_unit, tile, decision_surface)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.blocks import gan as G
from cs231n_lib.blocks.toy2d import ring_of_gaussians

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def d_loss(real, fake):
    return F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def g_loss(fake):
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def test_shapes_of_the_players():
    torch.manual_seed(0)
    z = G.sample_noise(5, 32)
    assert z.shape == (5, 32) and z.min() >= -1 and z.max() < 1
    dc_g, dc_d = G.DCGenerator(noise_dim=32, width=8), G.DCDiscriminator(width=8)
    images = dc_g(z)
    assert images.shape == (5, 1, 8, 8) and images.abs().max() <= 1
    assert dc_d(images).shape == (5,) and dc_d(images.reshape(5, 64)).shape == (5,)
    mlp_g = G.MLPGenerator(noise_dim=32, hidden_dim=16, output_dim=64)
    mlp_d = G.MLPDiscriminator(input_dim=64, hidden_dim=16)
    assert mlp_g(z).shape == (5, 64) and mlp_d(images).shape == (5,)
    points = G.MLPGenerator(noise_dim=4, hidden_dim=8, output_dim=2, tanh=False)
    assert points(G.sample_noise(3, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="noise_dim"):
        G.DCGenerator(noise_dim=0)


def test_train_gan_calls_the_losses_it_is_given_with_k_discriminator_steps():
    torch.manual_seed(0)
    generator = G.MLPGenerator(noise_dim=4, hidden_dim=8, output_dim=2, tanh=False)
    discriminator = G.MLPDiscriminator(input_dim=2, hidden_dim=8)
    calls = {"d": 0, "g": 0}
    g_before = [p.detach().clone() for p in generator.parameters()]

    def counting_d(real, fake):
        calls["d"] += 1
        assert real.shape == (16,) and fake.shape == (16,)
        return d_loss(real, fake)

    def frozen_g(fake):  # no gradient to G: it must stay as it is
        calls["g"] += 1
        # The discriminator's backward pass left no gradient in G (its fakes are detached).
        assert all(p.grad is None or not p.grad.any() for p in generator.parameters())
        return 0.0 * fake.sum()

    history = G.train_gan(
        generator,
        discriminator,
        ring_of_gaussians(200, seed=0),
        counting_d,
        frozen_g,
        num_steps=7,
        batch_size=16,
        discriminator_steps=3,
        snapshot_every=3,
        num_snapshot=10,
        snapshot=lambda step, g, d: step * 10,
        progress=False,
    )
    assert calls == {"d": 21, "g": 7}
    assert history["steps"] == 7 and len(history["d_loss"]) == 7 and len(history["g_loss"]) == 7
    assert [step for step, _ in history["snapshots"]] == [3, 6, 7]
    assert history["snapshots"][0][1].shape == (10, 2)
    assert history["extra"] == [(3, 30), (6, 60), (7, 70)]
    for before, after in zip(g_before, generator.parameters(), strict=True):
        torch.testing.assert_close(before, after.detach())
    with pytest.raises(ValueError, match="discriminator_steps"):
        G.train_gan(generator, discriminator, np.zeros((4, 2)), d_loss, g_loss, 1,
                    discriminator_steps=0, progress=False)  # fmt: skip


def _gaussian_run(discriminator_loss, num_steps=300, seed=0):
    torch.manual_seed(seed)
    generator = G.MLPGenerator(noise_dim=4, hidden_dim=32, output_dim=2, tanh=False)
    discriminator = G.MLPDiscriminator(input_dim=2, hidden_dim=32)
    X = np.random.default_rng(0).normal([2.0, -1.0], 0.2, size=(2000, 2)).astype(np.float32)
    G.train_gan(generator, discriminator, X, discriminator_loss, g_loss, num_steps=num_steps,
                batch_size=64, learning_rate=2e-3, seed=seed, progress=False)  # fmt: skip
    return G.generate(generator, 500, seed=1)


def test_train_gan_learns_a_gaussian_with_the_standard_losses_only():
    samples = _gaussian_run(d_loss)
    # An untrained generator is about 2.2 away (near the origin); GANs oscillate around the
    # target, about 0.3 away at most after 300 steps here (seeds 0 to 2).
    assert np.linalg.norm(samples.mean(axis=0) - [2.0, -1.0]) < 0.5, samples.mean(axis=0)

    def swapped(real, fake):
        return d_loss(fake, real)

    wrong = _gaussian_run(swapped)
    assert np.linalg.norm(wrong.mean(axis=0) - [2.0, -1.0]) > 1.0


def test_training_and_generate_are_deterministic_by_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        generator, discriminator = G.DCGenerator(noise_dim=8, width=4), G.DCDiscriminator(width=4)
        X = np.random.default_rng(0).uniform(-1, 1, size=(50, 1, 8, 8))
        G.train_gan(generator, discriminator, X, d_loss, g_loss, num_steps=3, batch_size=8,
                    seed=2, progress=False)  # fmt: skip
        runs.append(G.generate(generator, 6, seed=4))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (6, 1, 8, 8) and runs[0].dtype == np.float64


def test_to_unit_tile_and_decision_surface():
    np.testing.assert_allclose(G.to_unit(np.array([-1.0, 0.0, 1.0, 3.0])), [0, 0.5, 1, 1])
    np.testing.assert_allclose(G.to_unit(torch.tensor([-2.0, 0.5])), [0.0, 0.75])
    images = np.arange(5 * 4, dtype=float).reshape(5, 2, 2)
    canvas = G.tile(images, ncols=3, pad=1, pad_value=-1.0)
    assert canvas.shape == (2 * 3 - 1, 3 * 3 - 1)
    np.testing.assert_array_equal(canvas[3:5, 3:5], images[4])
    np.testing.assert_array_equal(canvas[2], -1.0)
    np.testing.assert_array_equal(G.tile(images.reshape(5, 4), ncols=3, pad_value=-1), canvas)
    with pytest.raises(ValueError, match="square"):
        G.tile(np.zeros((2, 5)))

    class Stripe(torch.nn.Module):  # logit = x: "real" on the right half
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return 10 * x[:, 0]

    xs, surface = G.decision_surface(Stripe(), extent=2.0, resolution=9)
    assert xs.shape == (9,) and surface.shape == (9, 9)
    np.testing.assert_allclose(surface[3], 1 / (1 + np.exp(-10 * xs)), rtol=1e-6)
    np.testing.assert_allclose(surface[:, 4], 0.5)
