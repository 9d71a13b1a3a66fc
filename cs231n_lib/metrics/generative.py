"""Scores of generated samples (12_generative): Frechet distance, class coverage, confidence.

A generative model is scored through a classifier of the real data (for the digits,
cs231n_lib.blocks.sample_scorer), on one scale for every family of model:

- class_coverage(probabilities): the share of samples that the classifier puts in each
  class (argmax). A model that has collapsed onto a few modes covers few classes.
- mean_confidence(probabilities): the mean top-class probability. Blurry or broken
  samples, which look like no digit in particular, get low confidence.
- frechet_distance(features_a, features_b): the Frechet (2-Wasserstein) distance between
  Gaussians fitted to two sets of features (the classifier's penultimate layer): FID's
  formula, with a small digits classifier in place of Inception,

      d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

  where mu and S are the mean and covariance of each set. It compares whole distributions
  (quality and diversity at once), is 0 for identical statistics and grows as they part.
  NOTE: the estimate is biased upward at small sample sizes; compare models with the same
  numbers of samples, and against the floor of real held-out images vs the test images.
"""

from __future__ import annotations

import warnings

import numpy as np

IMAGINARY_TOLERANCE = 1e-3  # largest |imaginary part| of sqrtm, relative, taken as rounding


def _features(name: str, features) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(
            f"{name} must be (N, D) with N >= 2 samples (a covariance needs two), "
            f"got shape {features.shape}"
        )
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} holds nan or inf")
    return features


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    # A singular product (a feature constant over a set) makes scipy warn; the result is
    # checked for nan and for imaginary parts instead. (scipy is imported here, not at the
    # top: every notebook that imports the metrics would pay for it.)
    import scipy.linalg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(matrix)


def frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b) -> float:
    """Frechet distance |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two Gaussians.

    Inputs: means mu_a, mu_b (D,); covariances cov_a, cov_b (D, D), symmetric positive
    semi-definite.
    Returns a float >= 0 (squared units of the features, as FID reports it).
    Raises ValueError when the matrix square root has an imaginary part beyond rounding
    (the covariances are then not positive semi-definite).
    """
    mu_a, mu_b = np.atleast_1d(mu_a).astype(np.float64), np.atleast_1d(mu_b).astype(np.float64)
    cov_a, cov_b = np.atleast_2d(cov_a).astype(np.float64), np.atleast_2d(cov_b).astype(np.float64)
    dim = mu_a.shape[0]
    if (
        mu_a.shape != (dim,)
        or mu_b.shape != (dim,)
        or cov_a.shape != (dim, dim)
        or (cov_b.shape != (dim, dim))
    ):
        raise ValueError(
            f"expected mu (D,) and cov (D, D) of one D for both; got mu_a {mu_a.shape}, "
            f"cov_a {cov_a.shape}, mu_b {mu_b.shape}, cov_b {cov_b.shape}"
        )
    root = _sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(root)):
        # NOTE: singular covariances (fewer samples than dimensions, dead features) can
        # make sqrtm fail; a tiny ridge, as FID's reference code adds, makes it invertible.
        ridge = 1e-6 * np.eye(dim)
        root = _sqrtm((cov_a + ridge) @ (cov_b + ridge))
    if np.iscomplexobj(root):
        scale = max(1.0, float(np.max(np.abs(root.real))))
        imaginary = float(np.max(np.abs(root.imag)))
        if imaginary > IMAGINARY_TOLERANCE * scale:
            raise ValueError(
                f"sqrtm(S_a S_b) has an imaginary part of {imaginary:.3g} (more than "
                f"{IMAGINARY_TOLERANCE:g} x {scale:.3g}): are both covariances positive "
                f"semi-definite?"
            )
        root = root.real
    diff = mu_a - mu_b
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root)
    return max(float(distance), 0.0)  # rounding can leave -1e-12 for identical statistics


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two sets of features.

    Inputs: features_a (N_a, D) and features_b (N_b, D), one row per sample (e.g. the
    sample scorer's penultimate layer), N_a and N_b >= 2.
    Returns d^2 of the module docstring, a float >= 0, from each set's mean and unbiased
    covariance (np.cov, N - 1 in the denominator).
    """
    features_a = _features("features_a", features_a)
    features_b = _features("features_b", features_b)
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"features_a has D = {features_a.shape[1]}, features_b D = {features_b.shape[1]}"
        )
    return frechet_distance_gaussians(
        features_a.mean(axis=0),
        np.cov(features_a, rowvar=False),
        features_b.mean(axis=0),
        np.cov(features_b, rowvar=False),
    )


def _probabilities(probabilities) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 1:
        raise ValueError(f"probabilities must be (N, K), got shape {probabilities.shape}")
    if probabilities.size and (
        np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    ):
        raise ValueError(
            "probabilities must be non-negative rows that sum to 1 (a softmax of the scores, "
            f"not the scores); row sums lie in [{probabilities.sum(axis=1).min():.4g}, "
            f"{probabilities.sum(axis=1).max():.4g}]"
        )
    return probabilities


def class_coverage(probabilities) -> np.ndarray:
    """The share of samples in each class by the classifier's argmax.

    Inputs: probabilities (N, K), one softmax row per sample.
    Returns coverage (K,) float64 that sums to 1 (all zeros when N = 0): coverage[k] is the
    fraction of samples whose most likely class is k.
    """
    probabilities = _probabilities(probabilities)
    num, num_classes = probabilities.shape
    counts = np.bincount(probabilities.argmax(axis=1), minlength=num_classes)
    return counts / max(num, 1)


def mean_confidence(probabilities) -> float:
    """The mean over samples of the top-class probability max_k p_k, in [1/K, 1].

    Inputs: probabilities (N, K), N >= 1.
    """
    probabilities = _probabilities(probabilities)
    if probabilities.shape[0] == 0:
        raise ValueError("mean_confidence of no samples is undefined")
    return float(probabilities.max(axis=1).mean())


__all__ = [
    "class_coverage",
    "frechet_distance",
    "frechet_distance_gaussians",
    "mean_confidence",
]
