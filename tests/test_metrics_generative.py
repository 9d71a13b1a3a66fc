"""cs231n_lib.metrics.generative: the Frechet distance against closed forms (diagonal and 1-D
Gaussians: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2) and against a direct computation by
eigendecomposition, tr (S_a^(1/2) S_b S_a^(1/2))^(1/2), on samples; its invariances and its
guards; class coverage and mean confidence by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cs231n_lib import metrics
from cs231n_lib.metrics import generative as G


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def direct_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """The same distance without sqrtm of a non-symmetric product: the trace of the square
    root of the symmetric S_a^(1/2) S_b S_a^(1/2) (same eigenvalues as S_a S_b)."""
    mu_a, mu_b = x.mean(axis=0), y.mean(axis=0)
    cov_a, cov_b = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root_a = _psd_sqrt(cov_a)
    cross = np.trace(_psd_sqrt(root_a @ cov_b @ root_a))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def random_rotation(dim: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def test_diagonal_gaussians_have_the_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    want = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = G.frechet_distance_gaussians(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(want, rel=1e-10)  # 1 + 6.25 + 4 + 1 + 0 = 12.25
    assert want == pytest.approx(12.25)
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    assert G.frechet_distance_gaussians(0.0, 4.0, 3.0, 1.0) == pytest.approx(9 + 1)


def test_rotated_gaussians_match_the_direct_computation():
    rng = np.random.default_rng(0)
    q = random_rotation(4, rng)
    cov_a = q @ np.diag([3.0, 1.0, 0.5, 0.1]) @ q.T
    cov_b = np.diag([1.0, 2.0, 0.2, 0.3])  # does not commute with cov_a
    mu_a, mu_b = rng.standard_normal(4), rng.standard_normal(4)
    root_a = _psd_sqrt(cov_a)
    want = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(cov_a + cov_b)
        - 2 * np.trace(_psd_sqrt(root_a @ cov_b @ root_a))
    )
    assert G.frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b) == pytest.approx(want, rel=1e-9)


def test_samples_match_direct_computation_and_approach_the_closed_form():
    rng = np.random.default_rng(1)
    mu_a, mu_b = np.array([0.0, 2.0, 0.0]), np.array([1.0, 0.0, 0.0])
    sd_a, sd_b = np.array([1.0, 0.5, 2.0]), np.array([2.0, 0.5, 1.0])
    x = mu_a + sd_a * rng.standard_normal((40_000, 3))
    y = mu_b + sd_b * rng.standard_normal((30_000, 3))
    got = G.frechet_distance(x, y)
    assert got == pytest.approx(direct_frechet(x, y), rel=1e-9)
    closed = np.sum((mu_a - mu_b) ** 2) + np.sum((sd_a - sd_b) ** 2)  # 5 + 2 = 7
    assert got == pytest.approx(closed, rel=0.02)
    # rotated together the sets keep their distance; apart they do not
    q = random_rotation(3, rng)
    assert G.frechet_distance(x @ q, y @ q) == pytest.approx(got, rel=1e-9)
    assert G.frechet_distance(x @ q, y) != pytest.approx(got, rel=1e-2)


def test_identity_symmetry_translation_and_scale():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 6)) @ rng.standard_normal((6, 6))
    y = rng.standard_normal((150, 6)) * 2 + 1
    assert G.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert G.frechet_distance(x, y) == pytest.approx(G.frechet_distance(y, x), rel=1e-8)
    shift = rng.standard_normal(6)
    assert G.frechet_distance(x + shift, y + shift) == pytest.approx(
        G.frechet_distance(x, y), rel=1e-9
    )
    assert G.frechet_distance(3 * x, 3 * y) == pytest.approx(9 * G.frechet_distance(x, y), rel=1e-9)
    assert G.frechet_distance(x, y) == pytest.approx(direct_frechet(x, y), rel=1e-8)


def test_singular_covariances_give_a_finite_distance_without_warnings():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 12))  # fewer samples than dimensions: rank 4
    y = rng.standard_normal((7, 12))
    x[:, 0] = 0.0  # a dead feature: zero variance
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = G.frechet_distance(x, y)
    assert np.isfinite(got) and got >= 0
    assert got == pytest.approx(direct_frechet(x, y), rel=1e-4)


def test_a_product_whose_square_root_fails_falls_back_to_a_ridge():
    # singular covariances whose product has a Jordan block: scipy's sqrtm gives nan here
    cov_a = np.array([[3, 3, -1, -1], [3, 3, -1, -1], [-1, -1, 3, 3], [-1, -1, 3, 3]], float)
    cov_b = np.array([[1, -1, 0, -1], [-1, 3, 0, 2], [0, 0, 0, 0], [-1, 2, 0, 2]], float)
    assert not np.all(np.isfinite(G._sqrtm(cov_a @ cov_b)))
    root_a = _psd_sqrt(cov_a)
    want = np.trace(cov_a + cov_b) - 2 * np.trace(_psd_sqrt(root_a @ cov_b @ root_a))
    got = G.frechet_distance_gaussians(np.zeros(4), cov_a, np.zeros(4), cov_b)
    assert np.isfinite(got) and got == pytest.approx(want, abs=1e-2)


def test_imaginary_parts_are_dropped_when_tiny_and_refused_when_not(monkeypatch):
    cov = np.diag([1.0, 4.0])
    real = G._sqrtm(cov @ cov)
    monkeypatch.setattr(G, "_sqrtm", lambda m: real + 1e-12j)
    assert G.frechet_distance_gaussians([0, 0], cov, [0, 0], cov) == pytest.approx(0, abs=1e-9)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="imaginary part"):
        G.frechet_distance_gaussians([0, 0], np.diag([1.0, -1.0]), [0, 0], np.eye(2))


def test_frechet_refuses_bad_features():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        G.frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="D = 3"):
        G.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="nan"):
        G.frechet_distance(np.full((4, 3), np.nan), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="one D"):
        G.frechet_distance_gaussians(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_class_coverage_and_mean_confidence_by_hand():
    p = np.array(
        [
            [0.7, 0.2, 0.1, 0.0],
            [0.1, 0.8, 0.1, 0.0],
            [0.6, 0.3, 0.1, 0.0],
            [0.25, 0.25, 0.2, 0.3],
            [0.5, 0.4, 0.1, 0.0],
        ]
    )
    np.testing.assert_allclose(G.class_coverage(p), [3 / 5, 1 / 5, 0, 1 / 5])
    assert G.mean_confidence(p) == pytest.approx((0.7 + 0.8 + 0.6 + 0.3 + 0.5) / 5)
    np.testing.assert_array_equal(G.class_coverage(np.zeros((0, 3))), [0, 0, 0])
    uniform = np.full((10, 10), 0.1)
    assert G.mean_confidence(uniform) == pytest.approx(0.1)


def test_probabilities_must_be_probabilities():
    scores = np.array([[2.0, -1.0], [0.5, 3.0]])
    with pytest.raises(ValueError, match="sum to 1"):
        G.class_coverage(scores)
    with pytest.raises(ValueError, match="sum to 1"):
        G.mean_confidence(scores)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        G.class_coverage(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="no samples"):
        G.mean_confidence(np.zeros((0, 3)))


def test_exported_from_the_metrics_package():
    for name in ("frechet_distance", "frechet_distance_gaussians", "class_coverage"):
        assert getattr(metrics, name) is getattr(G, name)
    assert metrics.mean_confidence is G.mean_confidence
