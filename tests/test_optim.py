"""Tests of cs231n_lib.optim: the update rules and their shared interface."""

import numpy as np
import pytest

from cs231n_lib import optim


def test_sgd_steps_against_the_gradient():
    w = np.array([1.0, -2.0, 3.0])
    dw = np.array([0.5, 0.5, -1.0])
    next_w, config = optim.sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [0.95, -2.05, 3.1])
    assert config["learning_rate"] == 0.1


def test_sgd_default_learning_rate_and_no_in_place_change():
    w = np.ones((2, 3))
    next_w, config = optim.sgd(w, np.ones((2, 3)))
    assert config == {"learning_rate": 1e-2}
    np.testing.assert_allclose(next_w, np.full((2, 3), 0.99))
    np.testing.assert_array_equal(w, np.ones((2, 3)))  # w itself is left alone


def test_sgd_keeps_the_callers_config_dict():
    config = {"learning_rate": 0.5}
    _, returned = optim.sgd(np.zeros(2), np.ones(2), config)
    assert returned is config


def test_sgd_rejects_a_gradient_of_another_shape():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        optim.sgd(np.zeros((2, 3)), np.zeros((3, 2)))


def test_sgd_minimizes_a_quadratic():
    target = np.array([3.0, -1.0])
    w, config = np.zeros(2), {"learning_rate": 0.1}
    for _ in range(200):
        w, config = optim.sgd(w, 2 * (w - target), config)  # gradient of ||w - target||^2
    np.testing.assert_allclose(w, target, atol=1e-8)
