"""Tests of cs231n_lib.layers.initializers: scales, fans, shapes and reproducibility."""

import numpy as np
import pytest
import torch

from cs231n_lib.layers import initializers
from cs231n_lib.layers.initializers import init_weights

FAN_IN, FAN_OUT = 400, 150  # different fans: a wrong fan changes the std by sqrt(400/150)


def sample_std_tolerance(W: np.ndarray) -> float:
    """Relative tolerance on a sample std: five standard errors, 1 / sqrt(2 n) each."""
    return 5 / np.sqrt(2 * W.size)


@pytest.mark.parametrize(
    ("method", "std"),
    [("small", 0.01), ("xavier", 1 / np.sqrt(FAN_IN)), ("he", np.sqrt(2 / FAN_IN))],
)
def test_std_uses_fan_in(method, std):
    W = init_weights(FAN_IN, FAN_OUT, method, rng=0)
    assert W.shape == (FAN_IN, FAN_OUT)
    assert abs(W.std() / std - 1) < sample_std_tolerance(W)
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)


@pytest.mark.parametrize("method", ["small", "xavier", "he"])
def test_the_draws_are_std_times_standard_normal(method):
    stds = {"small": 0.01, "xavier": 1 / np.sqrt(30), "he": np.sqrt(2 / 30)}
    expected = stds[method] * np.random.default_rng(5).standard_normal((30, 20))
    np.testing.assert_allclose(init_weights(30, 20, method, 5), expected, rtol=1e-15)


def test_he_matches_torch_kaiming_normal():
    # torch's weight is (fan_out, fan_in); kaiming_normal_ with mode fan_in draws std
    # sqrt(2 / fan_in) for ReLU, the same distribution as ours.
    gen = torch.Generator().manual_seed(0)
    ref = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch.nn.init.kaiming_normal_(ref, mode="fan_in", nonlinearity="relu", generator=gen)
    ours = initializers.he(FAN_IN, FAN_OUT, rng=0)
    assert abs(ours.std() / ref.std().item() - 1) < 2 * sample_std_tolerance(ours)


def test_generator_and_seed_give_the_same_result_and_the_generator_advances():
    rng = np.random.default_rng(11)
    first = initializers.xavier(8, 3, rng)
    second = initializers.xavier(8, 3, rng)
    np.testing.assert_array_equal(first, initializers.xavier(8, 3, 11))
    assert not np.array_equal(first, second)


def test_small_random_takes_a_scale():
    W = initializers.small_random(FAN_IN, FAN_OUT, rng=1, scale=0.5)
    assert abs(W.std() / 0.5 - 1) < sample_std_tolerance(W)


def test_registry():
    assert sorted(initializers.INITIALIZERS) == ["he", "small", "xavier"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(fan_in=0, fan_out=3, method="he", rng=0), ValueError, "fan_in.*0"),
        (dict(fan_in=3, fan_out=2.5, method="he", rng=0), ValueError, "fan_out.*2.5"),
        (dict(fan_in=3, fan_out=2, method="glorot", rng=0), ValueError, "'glorot'"),
        (dict(fan_in=3, fan_out=2, method="he", rng="0"), TypeError, "Generator.*str"),
        (dict(fan_in=3, fan_out=2, method="he", rng=None), TypeError, "NoneType"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        init_weights(**kwargs)


def test_gaussian_rejects_a_non_positive_std():
    with pytest.raises(ValueError, match="-1"):
        initializers.gaussian(3, 2, std=-1.0, rng=0)
