"""Toy 2-D distributions for generative models (12_generative): a ring of Gaussians, and
how well a set of samples covers its modes.

gan.ipynb trains a GAN on it (and shows mode collapse with `mode_coverage`); diffusion.ipynb
trains a diffusion model on the same ring.
"""

from __future__ import annotations

import numpy as np


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def ring_centers(num_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The (num_modes, 2) centres of a ring of Gaussians, evenly spaced on a circle."""
    _positive_int("num_modes", num_modes)
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(
    num_samples: int, num_modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0
) -> np.ndarray:
    """num_samples points (N, 2) float32 of an equal mixture of isotropic Gaussians of
    standard deviation `std` centred on ring_centers(num_modes, radius), drawn with `seed`."""
    _positive_int("num_samples", num_samples)
    rng = np.random.default_rng(seed)
    modes = rng.integers(num_modes, size=num_samples)
    points = ring_centers(num_modes, radius)[modes] + std * rng.normal(size=(num_samples, 2))
    return points.astype(np.float32)


def mode_coverage(points, centers, std: float, num_std: float = 3.0) -> dict:
    """How a set of 2-D samples covers the modes of a mixture.

    A sample is of high quality when it lies within num_std * std of its nearest centre;
    a mode is covered when at least 1% of the samples (and at least one) are high-quality
    samples of that mode. Returns {"modes": the number of modes covered, "per_mode":
    (K,) share of all samples near each mode, "high_quality": the share of samples near
    some mode}.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centers = np.asarray(centers, dtype=np.float64)
    distances = np.linalg.norm(points[:, None, :] - centers[None], axis=2)  # (N, K)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(points)), nearest] <= num_std * std
    per_mode = np.bincount(nearest[good], minlength=len(centers)) / max(len(points), 1)
    threshold = max(0.01, 1.0 / max(len(points), 1))
    return {
        "modes": int((per_mode >= threshold).sum()),
        "per_mode": per_mode,
        "high_quality": float(good.mean()) if len(points) else 0.0,
    }


__all__ = ["mode_coverage", "ring_centers", "ring_of_gaussians"]
