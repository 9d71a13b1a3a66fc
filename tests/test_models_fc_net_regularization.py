"""Tests of FullyConnectedNet's normalization and dropout paths (cs231n_lib.layers.normalization,
cs231n_lib.layers.dropout): torch autograd, numerical gradients, train and test modes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.models.fc_net import FullyConnectedNet
from cs231n_lib.solver import Solver


def make_net(rng, hidden_dims, input_dim=5, num_classes=3, **kwargs):
    model = FullyConnectedNet(
        hidden_dims, input_dim, num_classes, weight_scale=0.5, seed=3, **kwargs
    )
    for name in model.params:  # nonzero biases, gammas, betas, so their gradients are tested
        if name.startswith(("b", "gamma")):
            model.params[name] = model.params[name] + rng.normal(size=model.params[name].shape)
    return model


def torch_normalized_net(params, X, y, reg, normalization, num_layers):
    """affine - norm - relu per hidden layer, then affine - softmax, by torch autograd."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(X, dtype=torch.float64)
    for layer in range(1, num_layers):
        a = h @ t[f"W{layer}"] + t[f"b{layer}"]
        gamma, beta = t[f"gamma{layer}"], t[f"beta{layer}"]
        if normalization == "batchnorm":
            a = F.batch_norm(a, None, None, gamma, beta, training=True, eps=1e-5)
        else:
            a = F.layer_norm(a, (a.shape[1],), gamma, beta, eps=1e-5)
        h = torch.relu(a)
    scores = h @ t[f"W{num_layers}"] + t[f"b{num_layers}"]
    penalty = sum((t[f"W{layer}"] ** 2).sum() for layer in range(1, num_layers + 1))
    loss = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * reg * penalty
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
@pytest.mark.parametrize(("hidden_dims", "reg"), [([6], 0.0), ([7, 4, 5], 0.2)])
def test_normalized_net_matches_torch(normalization, hidden_dims, reg):
    rng = np.random.default_rng(len(hidden_dims))
    model = make_net(rng, hidden_dims, normalization=normalization, reg=reg)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    loss, grads = model.loss(X, y)
    ref_loss, ref_grads = torch_normalized_net(
        model.params, X, y, reg, normalization, len(hidden_dims) + 1
    )
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    assert set(grads) == set(model.params)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, ref_grads[name], rtol=1e-7, atol=1e-10, err_msg=name)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(normalization="batchnorm"),
        dict(normalization="layernorm"),
        dict(dropout_keep_ratio=0.6, dropout_seed=123),
        dict(normalization="batchnorm", dropout_keep_ratio=0.7, dropout_seed=5, reg=0.1),
    ],
    ids=["batchnorm", "layernorm", "dropout", "batchnorm+dropout"],
)
def test_regularized_net_passes_numerical_gradient_check(kwargs):
    rng = np.random.default_rng(0)
    model = make_net(rng, [6, 4], activation="tanh", **kwargs)
    X, y = rng.normal(size=(5, 5)), rng.integers(0, 3, size=5)
    _, grads = model.loss(X, y)

    def loss_of(**params):
        model.params.update(params)
        return model.loss(X, y)[0]

    check_gradient(loss_of, dict(model.params), grads)


def test_batchnorm_net_test_mode_uses_running_averages():
    rng = np.random.default_rng(1)
    model = make_net(rng, [6, 6], normalization="batchnorm")
    X, y = rng.normal(2.0, 3.0, size=(40, 5)), rng.integers(0, 3, size=40)
    for _ in range(3):
        model.loss(X, y)  # train mode: moves the running averages toward the batch's
    means = [p["running_mean"].copy() for p in model.bn_params]
    assert all(np.abs(m).max() > 0 for m in means)
    whole = model.loss(X)
    np.testing.assert_allclose(model.loss(X[:3]), whole[:3], rtol=1e-12, atol=1e-12)
    for before, p in zip(means, model.bn_params, strict=True):
        np.testing.assert_array_equal(p["running_mean"], before)  # test mode only reads them


def test_layernorm_net_scores_do_not_depend_on_the_batch():
    rng = np.random.default_rng(2)
    model = make_net(rng, [6, 6], normalization="layernorm")
    X = rng.normal(size=(10, 5))
    np.testing.assert_allclose(model.loss(X[:2]), model.loss(X)[:2], rtol=1e-12)


def test_dropout_net_is_deterministic_at_test_time_and_random_in_training():
    rng = np.random.default_rng(3)
    with_dropout = make_net(rng, [50, 50], dropout_keep_ratio=0.5)
    without = FullyConnectedNet([50, 50], 5, 3, weight_scale=0.5, seed=3)
    without.params = {k: v.copy() for k, v in with_dropout.params.items()}
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    np.testing.assert_allclose(with_dropout.loss(X), without.loss(X), rtol=1e-12)
    first, second = with_dropout.loss(X, y)[0], with_dropout.loss(X, y)[0]
    assert first != second, "without dropout_seed every training step draws a new mask"


def test_batchnorm_net_trains_with_solver():
    rng = np.random.default_rng(4)
    centers = rng.normal(scale=3.0, size=(3, 5))
    y = rng.integers(0, 3, size=300)
    X = centers[y] + rng.normal(size=(300, 5))
    data = {"X_train": X[:200], "y_train": y[:200], "X_val": X[200:], "y_val": y[200:]}
    model = FullyConnectedNet([20, 20], 5, 3, normalization="batchnorm", seed=0)
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
        batch_size=50, num_epochs=5, progress=False,
    )  # fmt: skip
    solver.train()
    assert solver.loss_history[-1] < 0.5 * solver.loss_history[0], solver.loss_history
    assert solver.best_val_acc > 0.8, solver.best_val_acc
