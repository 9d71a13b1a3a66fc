"""Tests of cs231n_lib.models.two_layer_net against torch autograd and numerical gradients."""

import numpy as np
import pytest
import torch

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.models import TwoLayerNet
from cs231n_lib.solver import Solver


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def torch_loss_and_grads(params, X, y, reg):
    """The same network in torch: loss and gradients of every parameter."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    rows = torch.tensor(X).reshape(len(X), -1)
    scores = torch.relu(rows @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * reg * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}, scores.detach().numpy()


def random_net(rng, input_dim=6, hidden_dim=5, num_classes=4, reg=0.3):
    model = TwoLayerNet(input_dim, hidden_dim, num_classes, weight_scale=0.5, reg=reg, seed=3)
    model.params["b1"] = rng.normal(size=hidden_dim)  # nonzero biases test their gradients
    model.params["b2"] = rng.normal(size=num_classes)
    return model


def test_parameters_have_the_documented_shapes():
    model = TwoLayerNet(input_dim=7, hidden_dim=3, num_classes=2)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (7, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
    assert not model.params["b1"].any() and not model.params["b2"].any()


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_and_gradients_match_torch(rng, reg):
    model = random_net(rng, reg=reg)
    X, y = rng.normal(size=(8, 2, 3)), rng.integers(0, 4, size=8)  # (N, 2, 3): D = 6
    loss, grads = model.loss(X, y)
    ref_loss, ref_grads, ref_scores = torch_loss_and_grads(model.params, X, y, reg)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    assert set(grads) == set(model.params)
    for name, ref in ref_grads.items():
        np.testing.assert_allclose(grads[name], ref, rtol=1e-7, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(model.loss(X), ref_scores, rtol=1e-10)


def test_gradients_numerically(rng):
    model = random_net(rng, reg=0.2)
    X, y = rng.normal(size=(5, 6)), rng.integers(0, 4, size=5)
    _, grads = model.loss(X, y)

    def loss_of(**params):
        model.params.update(params)
        return model.loss(X, y)[0]

    check_gradient(loss_of, dict(model.params), grads)


def test_penalty_is_half_reg_times_squared_weights(rng):
    model = random_net(rng, reg=0.0)
    X, y = rng.normal(size=(4, 6)), rng.integers(0, 4, size=4)
    data_loss, _ = model.loss(X, y)
    model.reg = 2.5
    loss, _ = model.loss(X, y)
    penalty = 0.5 * 2.5 * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2"))
    assert loss - data_loss == pytest.approx(penalty)


def test_small_initial_weights_give_loss_log_num_classes(rng):
    model = TwoLayerNet(input_dim=20, hidden_dim=10, num_classes=7, weight_scale=1e-4)
    loss, _ = model.loss(rng.normal(size=(30, 20)), rng.integers(0, 7, size=30))
    assert loss == pytest.approx(np.log(7), abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"weight_scale": -1.0}, "weight_scale"),
        ({"reg": -0.1}, "reg"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoLayerNet(**kwargs)


def test_overfits_a_small_training_set(rng):
    X, y = rng.normal(size=(40, 10)), rng.integers(0, 5, size=40)
    model = TwoLayerNet(input_dim=10, hidden_dim=50, num_classes=5, weight_scale=0.1)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(
        model,
        data,
        optim_config={"learning_rate": 0.5},
        batch_size=10,
        num_epochs=60,
        progress=False,
    )
    solver.train()
    assert solver.best_val_acc == 1.0
