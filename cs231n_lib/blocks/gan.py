"""Generative adversarial networks: a 2-D toy (a ring of Gaussians), an MLP GAN and a DCGAN
on 8x8 digits.

A generator G maps noise z (N, noise_dim), z ~ U(-1, 1) as in the public CS231n GAN
notebook, to samples; a discriminator D maps samples to one real-valued score (a logit, or
a least-squares score) per sample, (N,). Digit generators end in tanh: their images lie in
[-1, 1] (train on 2 x - 1; `to_unit` maps samples back to [0, 1] for the scorer).

The notebook that teaches GANs (12_generative/gan.ipynb) trains these models with the
student's own losses, so `train_gan` takes them as arguments:
`discriminator_loss(scores_real, scores_fake) -> scalar` and
`generator_loss(scores_fake) -> scalar`. The package keeps no loss of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

DiscriminatorLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
GeneratorLoss = Callable[[torch.Tensor], torch.Tensor]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def sample_noise(num_samples: int, noise_dim: int, generator: torch.Generator | None = None):
    """Noise z (num_samples, noise_dim) uniform in [-1, 1), float32, on the CPU."""
    return 2 * torch.rand(num_samples, noise_dim, generator=generator) - 1


class MLPGenerator(nn.Module):
    """z (N, noise_dim) -> samples (N, output_dim): two hidden ReLU layers of hidden_dim;
    tanh at the end when `tanh` (images in [-1, 1]), none for 2-D points."""

    def __init__(
        self, noise_dim: int = 16, hidden_dim: int = 256, output_dim: int = 64, tanh: bool = True
    ):
        super().__init__()
        for name, value in [("noise_dim", noise_dim), ("hidden_dim", hidden_dim)]:
            _positive_int(name, value)
        _positive_int("output_dim", output_dim)
        self.noise_dim = noise_dim
        layers = [
            nn.Linear(noise_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, output_dim),
        ]
        self.net = nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Samples (N, input_dim) (images are flattened) -> scores (N,): two hidden LeakyReLU
    (slope 0.2) layers of hidden_dim and one output unit, no sigmoid (a logit)."""

    def __init__(self, input_dim: int = 64, hidden_dim: int = 256):
        super().__init__()
        _positive_int("input_dim", input_dim)
        _positive_int("hidden_dim", hidden_dim)
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(len(x), -1)).squeeze(1)


class DCGenerator(nn.Module):
    """The DCGAN generator for 8x8 images: z (N, noise_dim) -> a fully connected layer to
    (N, 4 width, 2, 2) -> transposed convolutions (kernel 4, stride 2, padding 1) to
    (N, 2 width, 4, 4) and (N, 1, 8, 8), BatchNorm and ReLU between them, tanh at the end."""

    def __init__(self, noise_dim: int = 32, width: int = 32):
        super().__init__()
        _positive_int("noise_dim", noise_dim)
        _positive_int("width", width)
        self.noise_dim, self.width = noise_dim, width
        self.project = nn.Sequential(
            nn.Linear(noise_dim, 4 * width * 2 * 2), nn.BatchNorm1d(4 * width * 2 * 2), nn.ReLU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1),  # (N, 2w, 4, 4)
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, stride=2, padding=1),  # (N, 1, 8, 8)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).reshape(len(z), 4 * self.width, 2, 2))


class DCDiscriminator(nn.Module):
    """The DCGAN discriminator for 8x8 images: (N, 1, 8, 8) (or (N, 64)) -> strided
    convolutions (kernel 4, stride 2, padding 1) to (N, width, 4, 4) and (N, 2 width, 2, 2)
    with LeakyReLU(0.2) -> a fully connected layer to one logit per image (N,)."""

    def __init__(self, width: int = 32):
        super().__init__()
        _positive_int("width", width)
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # (N, w, 4, 4)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (N, 2w, 2, 2)
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 2 * 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(len(x), 1, 8, 8)).squeeze(1)


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    X,
    discriminator_loss: DiscriminatorLoss,
    generator_loss: GeneratorLoss,
    num_steps: int = 1000,
    batch_size: int = 64,
    learning_rate: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    discriminator_steps: int = 1,
    snapshot_every: int | None = None,
    num_snapshot: int = 64,
    snapshot: Callable[[int, nn.Module, nn.Module], object] | None = None,
    desc: str | None = None,
    progress: bool = True,
) -> dict:
    """Train a GAN on data X (N, ...) (what the discriminator reads: points (N, 2), or
    images in [-1, 1]) by alternating steps: `discriminator_steps` Adam steps of D on
    discriminator_loss(D(x), D(G(z))) with G(z) detached (k of Goodfellow et al.'s
    algorithm), then one of G on generator_loss(D(G(z))) with fresh noise z ~ U(-1, 1).
    A step counts one generator update. Batches of real data and noise are drawn from
    `seed`.

    Every `snapshot_every` steps (and after the last), the generator's samples of
    `num_snapshot` fixed noise vectors are kept (numpy, the generator's output), and
    `snapshot(step, generator, discriminator)` is called if given, its result kept too.
    Returns {"d_loss", "g_loss": per-step losses, "snapshots": [(step, samples)],
    "extra": [(step, snapshot result)], "steps", "seconds"}.
    """
    from tqdm.auto import tqdm

    _positive_int("num_steps", num_steps)
    _positive_int("batch_size", batch_size)
    _positive_int("discriminator_steps", discriminator_steps)
    device = next(generator.parameters()).device
    X = torch.as_tensor(np.asarray(X, dtype=np.float32)).to(device)
    rng = torch.Generator().manual_seed(seed)
    fixed_noise = sample_noise(num_snapshot, generator.noise_dim, rng).to(device)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=betas)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=betas)
    history: dict = {"d_loss": [], "g_loss": [], "snapshots": [], "extra": [], "steps": 0}

    def keep(step: int) -> None:
        generator.eval()
        with torch.no_grad():
            history["snapshots"].append((step, generator(fixed_noise).cpu().numpy()))
        if snapshot is not None:
            history["extra"].append((step, snapshot(step, generator, discriminator)))
        generator.train()

    start_time = time.perf_counter()
    generator.train()
    discriminator.train()
    steps = tqdm(range(1, num_steps + 1), desc=desc or "GAN", leave=False, disable=not progress)
    for step in steps:
        for _ in range(discriminator_steps):
            real = X[torch.randint(len(X), (batch_size,), generator=rng).to(device)]
            z = sample_noise(batch_size, generator.noise_dim, rng).to(device)
            with torch.no_grad():
                fake = generator(z)
            d_loss = discriminator_loss(discriminator(real), discriminator(fake))
            optimizer_d.zero_grad()
            d_loss.backward()
            optimizer_d.step()

        z = sample_noise(batch_size, generator.noise_dim, rng).to(device)
        g_loss = generator_loss(discriminator(generator(z)))
        optimizer_g.zero_grad()
        g_loss.backward()
        optimizer_g.step()

        history["d_loss"].append(float(d_loss.detach()))
        history["g_loss"].append(float(g_loss.detach()))
        history["steps"] = step
        if snapshot_every and (step % snapshot_every == 0 or step == num_steps):
            keep(step)
        if step % 50 == 0:
            steps.set_postfix(D=f"{history['d_loss'][-1]:.3f}", G=f"{history['g_loss'][-1]:.3f}")
    generator.eval()
    discriminator.eval()
    history["seconds"] = time.perf_counter() - start_time
    return history


def generate(generator: nn.Module, num_samples: int, seed: int = 0, batch_size: int = 500):
    """num_samples samples of the generator (numpy float64, its output's shape), from noise
    drawn with `seed`; the generator is run in eval mode."""
    _positive_int("num_samples", num_samples)
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    z = sample_noise(num_samples, generator.noise_dim, rng)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = [
            generator(z[s : s + batch_size].to(device)).double().cpu()
            for s in range(0, len(z), batch_size)
        ]
    generator.train(was_training)
    return torch.cat(out).numpy()


def to_unit(images) -> np.ndarray:
    """Images in [-1, 1] (a tanh output) -> (images + 1) / 2 in [0, 1], clipped, numpy."""
    images = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def tile(images, ncols: int = 16, pad: int = 1, pad_value: float = 0.4) -> np.ndarray:
    """Grey images (N, H, W), (N, 1, H, W) or (N, H * W) of square size -> one canvas
    (rows * (H + pad) - pad, ncols * (W + pad) - pad) with grey seams, for a single imshow
    (much faster than one axis per image for a grid of many small samples)."""
    _positive_int("ncols", ncols)
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"flat images must be square, got {images.shape[1]} pixels")
        images = images.reshape(len(images), side, side)
    images = images.reshape(len(images), images.shape[-2], images.shape[-1])
    if len(images) == 0:
        raise ValueError("tile got no images")
    N, H, W = images.shape
    rows = -(-N // ncols)
    canvas = np.full((rows * (H + pad) - pad, ncols * (W + pad) - pad), pad_value)
    for index, image in enumerate(images):
        r, c = divmod(index, ncols)
        canvas[r * (H + pad) : r * (H + pad) + H, c * (W + pad) : c * (W + pad) + W] = image
    return canvas


def decision_surface(discriminator: nn.Module, extent: float = 3.0, resolution: int = 100):
    """D's probability sigmoid(D(x)) that a point is real on a square grid of 2-D points.

    Returns (xs (resolution,), probabilities (resolution, resolution)); row i is the
    y-coordinate xs[i], column j the x-coordinate xs[j] (imshow with origin="lower")."""
    _positive_int("resolution", resolution)
    xs = np.linspace(-extent, extent, resolution)
    grid = np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)
    device = next(discriminator.parameters()).device
    with torch.no_grad():
        scores = discriminator(torch.as_tensor(grid, dtype=torch.float32, device=device))
    return xs, torch.sigmoid(scores).double().cpu().numpy().reshape(resolution, resolution)


__all__ = [
    "DCDiscriminator",
    "DCGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "decision_surface",
    "generate",
    "sample_noise",
    "tile",
    "to_unit",
    "train_gan",
]
