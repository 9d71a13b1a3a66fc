"""Tests of cs231n_lib.layers.normalization against torch (F.batch_norm, F.layer_norm, autograd)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers.normalization import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def assert_close(actual, expected, name, rtol=1e-7, atol=1e-10):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=name)


def torch_forward_backward(fn, arrays, dout):
    """fn(*tensors) and the gradients of sum(fn(*tensors) * dout), by torch autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    (out * torch.as_tensor(dout, dtype=torch.float64)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def bn_inputs(rng, N=7, D=5):
    x = rng.normal(3.0, 2.5, size=(N, D))
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    return x, gamma, beta, rng.normal(size=(N, D))


# --- batch norm: forward -------------------------------------------------------------------


def test_batchnorm_train_forward_matches_torch(rng):
    x, gamma, beta, _ = bn_inputs(rng)
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-3})
    expected = F.batch_norm(
        *map(torch.tensor, (x,)), None, None, torch.tensor(gamma), torch.tensor(beta),
        training=True, eps=1e-3,
    )  # fmt: skip
    assert_close(out, expected.numpy(), "out")


def test_batchnorm_train_output_has_batch_statistics_gamma_beta(rng):
    x, _, _, _ = bn_inputs(rng, N=50, D=4)
    gamma, beta = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.0, -1.0, 4.0, 2.0])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-12})
    assert_close(out.mean(axis=0), beta, "mean", atol=1e-9)
    assert_close(out.std(axis=0), gamma, "std", rtol=1e-6)


def test_batchnorm_running_averages_use_momentum_and_biased_variance(rng):
    x, gamma, beta, _ = bn_inputs(rng, N=6, D=3)
    bn_param = {"mode": "train", "momentum": 0.8}
    batchnorm_forward(x, gamma, beta, bn_param)  # created as zeros, then one update
    assert_close(bn_param["running_mean"], 0.2 * x.mean(axis=0), "running_mean")
    assert_close(bn_param["running_var"], 0.2 * x.var(axis=0), "running_var")
    x2 = rng.normal(size=(6, 3))
    batchnorm_forward(x2, gamma, beta, bn_param)
    assert_close(
        bn_param["running_mean"], 0.8 * 0.2 * x.mean(0) + 0.2 * x2.mean(0), "running_mean 2"
    )
    assert_close(bn_param["running_var"], 0.8 * 0.2 * x.var(0) + 0.2 * x2.var(0), "running_var 2")


def test_batchnorm_running_averages_match_reference(rng):
    from cs231n_lib import reference

    x, gamma, beta, _ = bn_inputs(rng)
    ours, theirs = {"mode": "train"}, {"mode": "train"}
    for _ in range(3):
        batchnorm_forward(x, gamma, beta, ours)
        reference.batchnorm_forward(x, gamma, beta, theirs)
        x = x * 1.5 + 1
    assert_close(ours["running_mean"], theirs["running_mean"], "running_mean")
    assert_close(ours["running_var"], theirs["running_var"], "running_var")


def test_batchnorm_test_mode_uses_running_averages_and_leaves_them(rng):
    x, gamma, beta, _ = bn_inputs(rng)
    running_mean, running_var = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    bn_param = {
        "mode": "test",
        "running_mean": running_mean.copy(),
        "running_var": running_var.copy(),
    }
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = F.batch_norm(
        torch.tensor(x), torch.tensor(running_mean), torch.tensor(running_var),
        torch.tensor(gamma), torch.tensor(beta), training=False, eps=1e-5,
    )  # fmt: skip
    assert_close(out, expected.numpy(), "out")
    assert_close(bn_param["running_mean"], running_mean, "running_mean unchanged")
    assert_close(bn_param["running_var"], running_var, "running_var unchanged")


def test_batchnorm_test_mode_after_training_normalizes_new_data(rng):
    gamma, beta = np.ones(3), np.zeros(3)
    bn_param = {"mode": "train"}
    scale, shift = np.array([2.0, 0.5, 5.0]), np.array([1.0, -3.0, 10.0])
    for _ in range(200):
        batchnorm_forward(rng.normal(size=(64, 3)) * scale + shift, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(rng.normal(size=(2000, 3)) * scale + shift, gamma, beta, bn_param)
    assert np.all(np.abs(out.mean(axis=0)) < 0.15), out.mean(axis=0)
    assert np.all(np.abs(out.std(axis=0) - 1) < 0.15), out.std(axis=0)


@pytest.mark.parametrize(
    "bn_param, match",
    [({}, "mode"), ({"mode": "eval"}, "mode"), ({"mode": "train", "eps": 0}, "eps"),
     ({"mode": "train", "momentum": 1.5}, "momentum")],
)  # fmt: skip
def test_batchnorm_rejects_bad_params(rng, bn_param, match):
    x, gamma, beta, _ = bn_inputs(rng)
    with pytest.raises(ValueError, match=match):
        batchnorm_forward(x, gamma, beta, bn_param)


def test_batchnorm_rejects_bad_shapes(rng):
    x, gamma, beta, _ = bn_inputs(rng)
    with pytest.raises(ValueError, match="gamma"):
        batchnorm_forward(x, gamma[:3], beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        batchnorm_forward(x.reshape(7, 5, 1), gamma, beta, {"mode": "train"})


# --- batch norm: backward ------------------------------------------------------------------


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
@pytest.mark.parametrize("shape", [(4, 3), (10, 6), (2, 1)])
def test_batchnorm_train_backward_matches_torch(rng, backward, shape):
    x, gamma, beta, dout = bn_inputs(rng, *shape)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    grads = backward(dout, cache)
    _, expected = torch_forward_backward(
        lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5),
        [x, gamma, beta],
        dout,
    )
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert_close(ours, theirs, name, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_test_backward_matches_reference(rng, backward):
    from cs231n_lib import reference

    x, gamma, beta, dout = bn_inputs(rng)
    bn_param = {"mode": "test", "running_mean": rng.normal(size=5), "running_var": np.ones(5)}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    expected = reference.batchnorm_backward(dout, x, gamma, beta, bn_param)
    for name, ours, theirs in zip(
        ("dx", "dgamma", "dbeta"), backward(dout, cache), expected, strict=True
    ):
        assert_close(ours, theirs, name)


def test_batchnorm_backward_passes_numerical_gradient_check(rng):
    x, gamma, beta, dout = bn_inputs(rng, 5, 4)

    def forward(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    check_gradient(
        forward,
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
        tol=1e-6,
    )


def test_batchnorm_dx_sums_to_zero_per_feature(rng):
    # Adding a constant to a feature changes nothing after normalization.
    x, gamma, beta, dout = bn_inputs(rng)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        dx = backward(dout, cache)[0]
        assert np.abs(dx.sum(axis=0)).max() < 1e-10, backward.__name__


# --- layer norm ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 6), (3, 1, 5), (2, 3, 4)])
def test_layernorm_forward_and_backward_match_torch(rng, shape):
    D = shape[-1]
    x = rng.normal(2.0, 3.0, size=shape)
    gamma, beta, dout = rng.normal(size=D), rng.normal(size=D), rng.normal(size=shape)
    out, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-4})
    grads = layernorm_backward(dout, cache)
    ref_out, expected = torch_forward_backward(
        lambda x, g, b: F.layer_norm(x, (D,), g, b, eps=1e-4), [x, gamma, beta], dout
    )
    assert_close(out, ref_out, "out")
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert_close(ours, theirs, name, rtol=1e-6, atol=1e-9)


def test_layernorm_is_independent_of_the_batch(rng):
    x, gamma, beta = rng.normal(size=(6, 5)), rng.normal(size=5), rng.normal(size=5)
    whole, _ = layernorm_forward(x, gamma, beta)
    first, _ = layernorm_forward(x[:1], gamma, beta)
    assert_close(first, whole[:1], "row 0 alone vs in its batch")


def test_layernorm_backward_passes_numerical_gradient_check(rng):
    x, gamma, beta = rng.normal(size=(3, 6)), rng.normal(size=6), rng.normal(size=6)
    dout = rng.normal(size=(3, 6))
    _, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    check_gradient(
        lambda x, gamma, beta: layernorm_forward(x, gamma, beta)[0],
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
        tol=1e-6,
    )


def test_layernorm_rejects_bad_input(rng):
    with pytest.raises(ValueError, match="gamma"):
        layernorm_forward(rng.normal(size=(3, 4)), np.ones(3), np.zeros(4))
    with pytest.raises(ValueError, match="x must be"):
        layernorm_forward(np.ones(4), np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="eps"):
        layernorm_forward(np.ones((2, 4)), np.ones(4), np.zeros(4), {"eps": -1.0})
