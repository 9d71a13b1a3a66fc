"""Tests of the update rules of cs231n_lib.optim against torch.optim, step by step.

Each rule is run for several steps on a sequence of random gradients, beside the torch
optimizer with the same hyperparameters fed the same gradients; the parameters must
agree after every step.
"""

import numpy as np
import pytest
import torch

from cs231n_lib import optim
from cs231n_lib.solver import Solver, update_rules

# rule -> (our config, a function making the torch optimizer for a list of parameters)
RULES = {
    "sgd": ({"learning_rate": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (
        {"learning_rate": 0.05, "momentum": 0.8},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8),
    ),
    "adagrad": (
        {"learning_rate": 0.3, "epsilon": 1e-6},
        lambda p: torch.optim.Adagrad(p, lr=0.3, eps=1e-6),
    ),
    "rmsprop": (
        {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-7},
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
    ),
    "adam": (
        {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6},
        lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.95), eps=1e-6),
    ),
}
DEFAULTS = {
    "sgd": ({}, lambda p: torch.optim.SGD(p, lr=1e-2)),
    "sgd_momentum": ({}, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    "adagrad": ({}, lambda p: torch.optim.Adagrad(p, lr=1e-2, eps=1e-8)),
    "rmsprop": ({}, lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
    "adam": ({}, lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
}


def run_both(name, config, make_torch, shape=(3, 4), num_steps=8, seed=0):
    """Yield (step, ours, torch's) parameters after each step on the same gradients."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    param = torch.tensor(w.copy(), requires_grad=True)
    optimizer = make_torch([param])
    rule = getattr(optim, name)
    config = dict(config)
    for step in range(1, num_steps + 1):
        dw = rng.normal(size=shape)
        if step == 2:
            dw.flat[0] = 0.0  # a zero gradient entry: epsilon keeps the division finite
        w, config = rule(w, dw, config)
        param.grad = torch.tensor(dw)
        optimizer.step()
        yield step, w, param.detach().numpy().copy(), config


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_matches_torch_optim_step_by_step(name, shape):
    config, make_torch = RULES[name]
    for step, ours, ref, _ in run_both(name, config, make_torch, shape=shape):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_match_torch_with_the_documented_defaults(name):
    config, make_torch = DEFAULTS[name]
    for step, ours, ref, _ in run_both(name, config, make_torch, num_steps=5):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")


def test_first_steps_by_hand():
    w, g = np.array([1.0, -2.0]), np.array([0.5, -1.0])
    # momentum: v = -lr g, then v = 0.9 v - lr g
    w1, c = optim.sgd_momentum(w, g, {"learning_rate": 0.1, "momentum": 0.9})
    np.testing.assert_allclose(c["velocity"], [-0.05, 0.1])
    w2, c = optim.sgd_momentum(w1, g, c)
    np.testing.assert_allclose(c["velocity"], [-0.095, 0.19])
    np.testing.assert_allclose(w2, w + [-0.145, 0.29])
    # AdaGrad's and RMSProp's first step has size lr in every coordinate (eps aside)
    w1, _ = optim.adagrad(w, g, {"learning_rate": 0.1, "epsilon": 0.0})
    np.testing.assert_allclose(w1, w - 0.1 * np.sign(g))
    w1, c = optim.rmsprop(w, g, {"learning_rate": 0.1, "decay_rate": 0.75, "epsilon": 0.0})
    np.testing.assert_allclose(c["cache"], 0.25 * g**2)
    np.testing.assert_allclose(w1, w - 0.1 * g / np.sqrt(0.25 * g**2))
    # Adam's bias correction makes its first step exactly lr * sign(g) (eps aside)
    w1, c = optim.adam(w, g, {"learning_rate": 0.1, "epsilon": 0.0})
    np.testing.assert_allclose(w1, w - 0.1 * np.sign(g))
    assert c["t"] == 1


@pytest.mark.parametrize("name", sorted(RULES))
def test_state_is_kept_in_the_config_and_w_is_not_changed(name):
    config, _ = RULES[name]
    config = dict(config)
    w, dw = np.ones((2, 2)), np.full((2, 2), 0.5)
    next_w, returned = getattr(optim, name)(w, dw, config)
    assert returned is config
    np.testing.assert_array_equal(w, np.ones((2, 2)))
    assert not np.array_equal(next_w, w)
    state = {
        "sgd": [],
        "sgd_momentum": ["velocity"],
        "adagrad": ["cache"],
        "rmsprop": ["cache"],
        "adam": ["m", "v", "t"],
    }[name]
    for key in state:
        assert key in config, f"{name} keeps no {key!r} in its config"


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad", "rmsprop", "adam"])
def test_none_config_gets_defaults(name):
    _, config = getattr(optim, name)(np.zeros(3), np.ones(3), None)
    assert "learning_rate" in config


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad", "rmsprop", "adam"])
def test_shape_mismatches_are_rejected(name):
    rule = getattr(optim, name)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        rule(np.zeros((2, 3)), np.zeros((3, 2)))
    _, config = rule(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"config\['.*'\] has shape \(3,\)"):
        rule(np.zeros(4), np.ones(4), config)


def test_adagrad_steps_shrink_under_a_constant_gradient():
    w, config, steps = np.zeros(1), {"learning_rate": 1.0}, []
    for _ in range(5):
        next_w, config = optim.adagrad(w, np.ones(1), config)
        steps.append(float(w[0] - next_w[0]))
        w = next_w
    np.testing.assert_allclose(steps, 1 / np.sqrt(np.arange(1, 6)), rtol=1e-7)


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_rule_minimizes_an_ill_conditioned_quadratic(name):
    scales = np.array([1.0, 10.0])  # loss 0.5 * sum(scales * w^2)
    w, config = (
        np.array([3.0, -2.0]),
        {
            "sgd": {"learning_rate": 0.05},
            "sgd_momentum": {"learning_rate": 0.02, "momentum": 0.9},
            "adagrad": {"learning_rate": 1.0},
            "rmsprop": {"learning_rate": 0.01},
            "adam": {"learning_rate": 0.05},
        }[name],
    )
    for _ in range(1000):
        w, config = getattr(optim, name)(w, scales * w, config)
    assert 0.5 * np.sum(scales * w**2) < 1e-3


def test_solver_finds_every_rule_by_name():
    assert set(RULES) <= set(update_rules())
    assert not any(name.startswith("_") for name in update_rules())


@pytest.mark.parametrize("name", sorted(RULES))
def test_solver_trains_with_each_rule(name):
    class Quadratic:
        """loss = 0.5 * ||W - target||^2 whatever the data; scores from W."""

        def __init__(self):
            self.params = {"W": np.zeros((2, 3))}

        def loss(self, X, y=None):
            if y is None:
                return X @ self.params["W"]
            diff = self.params["W"] - 1.0
            return 0.5 * float(np.sum(diff**2)), {"W": diff}

    model = Quadratic()
    data = {"X_train": np.ones((4, 2)), "y_train": np.zeros(4, dtype=int)}
    data |= {"X_val": np.ones((2, 2)), "y_val": np.zeros(2, dtype=int)}
    lr = {"sgd": 0.1, "sgd_momentum": 0.05, "adagrad": 0.5, "rmsprop": 0.05, "adam": 0.1}
    solver = Solver(
        model,
        data,
        update_rule=name,
        optim_config={"learning_rate": lr[name]},
        batch_size=2,
        num_epochs=40,
        progress=False,
    )
    solver.train()
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]


@pytest.mark.parametrize("name", sorted(RULES))
def test_float32_parameters_stay_float32(name):
    config, _ = RULES[name]
    w, config = np.ones(3, dtype=np.float32), dict(config)
    for _ in range(2):
        w, config = getattr(optim, name)(w, np.full(3, 0.5, dtype=np.float32), config)
    assert w.dtype == np.float32
