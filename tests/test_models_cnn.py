"""cs231n_lib.models.cnn.ThreeLayerConvNet against the same network in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.models.cnn import ThreeLayerConvNet
from cs231n_lib.solver import Solver


def _torch_loss(params, X, y, reg, pad):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(X), t["W1"], t["b1"], padding=pad)), 2)
    hidden = F.relu(a.flatten(1) @ t["W2"] + t["b2"])
    scores = hidden @ t["W3"] + t["b3"]
    penalty = sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
    loss = F.cross_entropy(scores, torch.from_numpy(y)) + 0.5 * reg * penalty
    loss.backward()
    return scores.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_and_gradients_match_torch(reg):
    model = ThreeLayerConvNet(
        input_dim=(2, 6, 8),
        num_filters=3,
        filter_size=3,
        hidden_dim=5,
        num_classes=4,
        weight_scale=0.5,
        reg=reg,
        seed=1,
    )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2, 6, 8))
    y = np.array([0, 3, 1])
    scores, loss, grads = _torch_loss(model.params, X, y, reg, pad=1)
    np.testing.assert_allclose(model.loss(X), scores, rtol=1e-10, atol=1e-12)
    got_loss, got_grads = model.loss(X, y)
    assert abs(got_loss - loss) < 1e-10
    assert got_grads.keys() == model.params.keys()
    for name, want in grads.items():
        np.testing.assert_allclose(got_grads[name], want, rtol=1e-8, atol=1e-12, err_msg=name)


def test_parameter_shapes_and_initialization():
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=5, hidden_dim=7)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (4, 3, 5, 5),
        "b1": (4,),
        "W2": (4 * 4 * 4, 7),
        "b2": (7,),
        "W3": (7, 10),
        "b3": (10,),
    }
    assert not model.params["b2"].any() and 5e-4 < model.params["W2"].std() < 2e-3


@pytest.mark.parametrize("kwargs", [{"filter_size": 4}, {"input_dim": (1, 7, 8)}, {"reg": -1.0}])
def test_rejects_bad_configuration(kwargs):
    with pytest.raises(ValueError):
        ThreeLayerConvNet(**kwargs)


def test_overfits_a_small_batch():
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((20, 1, 8, 8)), "y_train": rng.integers(0, 3, 20)}
    data["X_val"], data["y_val"] = data["X_train"], data["y_train"]
    model = ThreeLayerConvNet(
        input_dim=(1, 8, 8),
        num_filters=4,
        filter_size=3,
        hidden_dim=20,
        num_classes=3,
        weight_scale=0.3,
        dtype=np.float32,
    )
    solver = Solver(
        model,
        data,
        optim_config={"learning_rate": 0.1},
        batch_size=10,
        num_epochs=30,
        progress=False,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
