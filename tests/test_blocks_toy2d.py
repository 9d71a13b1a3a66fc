"""cs231n_lib.blocks.toy2d: the ring of Gaussians and the mode coverage of samples."""

import numpy as np
import pytest

from cs231n_lib.blocks import toy2d as T


def test_ring_of_gaussians_draws_every_mode_near_its_centre():
    X = T.ring_of_gaussians(8000, num_modes=8, radius=2.0, std=0.05, seed=3)
    assert X.shape == (8000, 2) and X.dtype == np.float32
    np.testing.assert_array_equal(X, T.ring_of_gaussians(8000, std=0.05, seed=3))
    assert not np.array_equal(X, T.ring_of_gaussians(8000, std=0.05, seed=4))
    centers = T.ring_centers(8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0)
    distances = np.linalg.norm(X[:, None] - centers[None], axis=2)
    nearest = distances.argmin(axis=1)
    shares = np.bincount(nearest, minlength=8) / len(X)
    np.testing.assert_allclose(shares, 1 / 8, atol=0.02)
    offsets = X - centers[nearest]
    np.testing.assert_allclose(offsets.std(axis=0), 0.05, rtol=0.05)


def test_mode_coverage_counts_the_modes_with_samples_of_quality():
    centers = T.ring_centers(8, 2.0)
    rng = np.random.default_rng(0)
    three = centers[rng.integers(3, size=600)] + 0.05 * rng.normal(size=(600, 2))
    found = T.mode_coverage(three, centers, std=0.05)
    assert found["modes"] == 3 and found["high_quality"] > 0.98
    np.testing.assert_allclose(found["per_mode"][3:], 0.0)
    far = np.zeros((100, 2))  # the centre of the ring: 2 away from every mode
    assert T.mode_coverage(far, centers, std=0.05) == {
        "modes": 0,
        "per_mode": pytest.approx(np.zeros(8)),
        "high_quality": 0.0,
    }
    # A mode with fewer than 1% of the samples is not covered.
    mixed = np.concatenate([three, np.tile(centers[5], (5, 1))])
    assert T.mode_coverage(mixed, centers, std=0.05)["modes"] == 3
    mixed = np.concatenate([three, np.tile(centers[5], (20, 1))])
    assert T.mode_coverage(mixed, centers, std=0.05)["modes"] == 4
