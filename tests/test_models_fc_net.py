"""Tests of cs231n_lib.models.fc_net (the default path: no normalization, no dropout)
against torch autograd and numerical gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.models.fc_net import FullyConnectedNet
from cs231n_lib.solver import Solver

TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "elu": F.elu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def torch_net(params, X, y, reg, activation, num_layers):
    """The same network in torch: scores, loss and every parameter's gradient."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(X, dtype=torch.float64).reshape(len(X), -1)
    for layer in range(1, num_layers):
        h = TORCH_ACTIVATIONS[activation](h @ t[f"W{layer}"] + t[f"b{layer}"])
    scores = h @ t[f"W{num_layers}"] + t[f"b{num_layers}"]
    loss = F.cross_entropy(scores, torch.tensor(y))
    penalty = sum((t[f"W{layer}"] ** 2).sum() for layer in range(1, num_layers + 1))
    loss = loss + 0.5 * reg * penalty
    loss.backward()
    return scores.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def random_net(rng, input_shape, hidden_dims, num_classes, **kwargs):
    D = int(np.prod(input_shape[1:]))
    model = FullyConnectedNet(hidden_dims, D, num_classes, weight_scale=0.5, seed=3, **kwargs)
    for name in model.params:
        if name.startswith("b"):  # nonzero biases, so that their gradients are tested
            model.params[name] = rng.normal(size=model.params[name].shape)
    return model


@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize(
    ("input_shape", "hidden_dims", "reg"),
    [((5, 4), [], 0.0), ((6, 3, 2), [7], 0.5), ((4, 6), [5, 3, 4], 0.1), ((3, 5), [4] * 4, 0)],
)
def test_scores_loss_and_gradients_match_torch(activation, input_shape, hidden_dims, reg):
    rng = np.random.default_rng(len(hidden_dims))
    model = random_net(rng, input_shape, hidden_dims, 3, activation=activation, reg=reg)
    X, y = rng.normal(size=input_shape), rng.integers(0, 3, size=input_shape[0])
    ref_scores, ref_loss, ref_grads = torch_net(
        model.params, X, y, reg, activation, len(hidden_dims) + 1
    )
    np.testing.assert_allclose(model.loss(X), ref_scores, rtol=1e-10, atol=1e-12)
    loss, grads = model.loss(X, y)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    assert set(grads) == set(model.params)
    for name, grad in grads.items():
        assert grad.shape == model.params[name].shape, name
        np.testing.assert_allclose(grad, ref_grads[name], rtol=1e-8, atol=1e-12, err_msg=name)


def test_gradients_match_numerical_gradients():
    rng = np.random.default_rng(0)
    model = random_net(rng, (4, 5), [6, 3], 3, activation="tanh", reg=0.3)
    X, y = rng.normal(size=(4, 5)), rng.integers(0, 3, size=4)
    _, grads = model.loss(X, y)

    def loss_of(**params):
        model.params.update(params)
        return model.loss(X, y)[0]

    check_gradient(loss_of, dict(model.params), grads)


def test_parameters_have_the_documented_names_shapes_and_dtype():
    model = FullyConnectedNet([5, 4], input_dim=7, num_classes=3, dtype=np.float32)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (7, 5),
        "b1": (5,),
        "W2": (5, 4),
        "b2": (4,),
        "W3": (4, 3),
        "b3": (3,),
    }
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert not any(model.params[f"b{i}"].any() for i in (1, 2, 3))
    assert model.loss(np.ones((2, 7))).dtype == np.float32


@pytest.mark.parametrize(
    ("init", "std_of_fan_in"),
    [("he", lambda n: np.sqrt(2 / n)), ("xavier", lambda n: 1 / np.sqrt(n)), ("small", None)],
)
def test_init_uses_each_layers_fan_in(init, std_of_fan_in):
    model = FullyConnectedNet([300, 200], input_dim=500, num_classes=10, init=init, seed=1)
    for name, fan_in in (("W1", 500), ("W2", 300), ("W3", 200)):
        W = model.params[name]
        expected = 0.01 if std_of_fan_in is None else std_of_fan_in(fan_in)
        assert abs(W.std() / expected - 1) < 5 / np.sqrt(2 * W.size), (name, W.std(), expected)


def test_weight_scale_overrides_init_and_seed_is_reproducible():
    a = FullyConnectedNet([50], input_dim=40, num_classes=5, weight_scale=0.3, init="he")
    b = FullyConnectedNet([50], input_dim=40, num_classes=5, weight_scale=0.3, seed=0)
    c = FullyConnectedNet([50], input_dim=40, num_classes=5, weight_scale=0.3, seed=1)
    assert abs(a.params["W1"].std() / 0.3 - 1) < 0.05
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_initial_loss_is_log_num_classes_with_small_weights():
    rng = np.random.default_rng(0)
    model = FullyConnectedNet([20, 20], input_dim=10, num_classes=10, init="small")
    loss, _ = model.loss(rng.normal(size=(50, 10)), rng.integers(0, 10, size=50))
    assert abs(loss - np.log(10)) < 1e-3


def test_solver_overfits_a_small_training_set():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 12)), rng.integers(0, 4, size=30)
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    model = FullyConnectedNet([40, 40, 40], input_dim=12, num_classes=4, seed=0)
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=10,
        num_epochs=30,
        progress=False,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(hidden_dims=100), TypeError, "sequence.*100"),
        (dict(hidden_dims=[10, 0]), ValueError, "positive integers.*0"),
        (dict(hidden_dims=[10], input_dim=2.5), ValueError, "2.5"),
        (dict(hidden_dims=[10], activation="swish"), ValueError, "'swish'"),
        (dict(hidden_dims=[10], normalization="groupnorm"), ValueError, "'groupnorm'"),
        (dict(hidden_dims=[10], dropout_keep_ratio=0.0), ValueError, "keeping.*0.0"),
        (dict(hidden_dims=[10], reg=-1.0), ValueError, "reg.*-1.0"),
        (dict(hidden_dims=[10], weight_scale=0.0), ValueError, "weight_scale.*0.0"),
        (dict(hidden_dims=[10], init="lecun"), ValueError, "'lecun'"),
        (dict(hidden_dims=[10], dtype=np.int32), TypeError, "floating"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        FullyConnectedNet(**{"input_dim": 4, "num_classes": 3} | kwargs)


def test_layer_functions_replace_the_package_layers():
    calls = []

    def recording(name):
        def layer(*args):
            calls.append(name)
            return getattr(__import__("cs231n_lib.layers", fromlist=[name]), name)(*args)

        return layer

    names = ["batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward"]
    model = FullyConnectedNet(
        [6],
        input_dim=4,
        num_classes=3,
        normalization="batchnorm",
        dropout_keep_ratio=0.5,
        dropout_seed=0,
        layer_functions={name: recording(name) for name in names},
    )
    X, y = np.random.default_rng(0).normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    model.loss(X, y)
    assert calls == [
        "batchnorm_forward",
        "dropout_forward",
        "dropout_backward",
        "batchnorm_backward",
    ]
    with pytest.raises(ValueError, match="layer_functions can replace"):
        FullyConnectedNet([6], input_dim=4, num_classes=3, layer_functions={"affine_forward": id})
