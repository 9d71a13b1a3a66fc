"""Tests of cs231n_lib.layers.activations: forward and backward passes against torch autograd."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import activations

# name -> (numpy forward with its keyword arguments, the same function in torch)
CASES = {
    "sigmoid": (activations.sigmoid_forward, {}, torch.sigmoid),
    "tanh": (activations.tanh_forward, {}, torch.tanh),
    "relu": (activations.relu_forward, {}, torch.relu),
    "leaky_relu": (activations.leaky_relu_forward, {}, lambda t: F.leaky_relu(t, 0.01)),
    "leaky_relu_0.2": (
        activations.leaky_relu_forward,
        {"alpha": 0.2},
        lambda t: F.leaky_relu(t, 0.2),
    ),
    "elu": (activations.elu_forward, {}, lambda t: F.elu(t, 1.0)),
    "elu_0.5": (activations.elu_forward, {"alpha": 0.5}, lambda t: F.elu(t, 0.5)),
    "elu_2": (activations.elu_forward, {"alpha": 2.0}, lambda t: F.elu(t, 2.0)),
}
BACKWARD = {
    activations.sigmoid_forward: activations.sigmoid_backward,
    activations.tanh_forward: activations.tanh_backward,
    activations.relu_forward: activations.relu_backward,
    activations.leaky_relu_forward: activations.leaky_relu_backward,
    activations.elu_forward: activations.elu_backward,
}


def torch_reference(fn, x, dout):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    (out * torch.tensor(dout)).sum().backward()
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2, 2)])
def test_forward_and_backward_match_torch(name, shape):
    forward, kwargs, torch_fn = CASES[name]
    rng = np.random.default_rng([sorted(CASES).index(name), *shape])  # stable across runs
    x, dout = 3 * rng.normal(size=shape), rng.normal(size=shape)
    x.flat[0] = 0.0  # the kink: every function takes the left derivative, as torch does
    out, cache = forward(x, **kwargs)
    dx = BACKWARD[forward](dout, cache)
    ref_out, ref_dx = torch_reference(torch_fn, x, dout)
    assert out.shape == shape and dx.shape == shape
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_numerical_gradient(name):
    forward, kwargs, _ = CASES[name]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 5))
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # away from the kink, where h = 1e-5 is safe
    dout = rng.normal(size=(4, 5))
    _, cache = forward(x, **kwargs)
    dx = BACKWARD[forward](dout, cache)
    check_gradient(lambda x: forward(x, **kwargs)[0], {"x": x}, {"x": dx}, dout=dout)


def test_derivatives_at_zero_are_the_left_ones():
    zero, one = np.zeros(1), np.ones(1)
    assert activations.relu_backward(one, activations.relu_forward(zero)[1])[0] == 0.0
    _, cache = activations.leaky_relu_forward(zero)
    assert activations.leaky_relu_backward(one, cache)[0] == 0.01
    _, cache = activations.elu_forward(zero, alpha=0.5)
    assert activations.elu_backward(one, cache)[0] == 0.5


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "leaky_relu"])
def test_extreme_inputs_give_no_warning_and_exact_limits(name):
    forward, kwargs, torch_fn = CASES[name]
    x = np.array([-1e4, -800.0, -40.0, 40.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        out, cache = forward(x, **kwargs)
        dx = BACKWARD[forward](np.ones_like(x), cache)
    ref_out, ref_dx = torch_reference(torch_fn, x, np.ones_like(x))
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-300)


def test_caches_hold_what_the_backward_pass_needs():
    x = np.array([-1.0, 0.5])
    out, cache = activations.sigmoid_forward(x)
    assert cache is out  # s (1 - s) needs only the output
    out, cache = activations.tanh_forward(x)
    assert cache is out
    _, (cached_x, alpha) = activations.leaky_relu_forward(x, alpha=0.1)
    assert cached_x is x and alpha == 0.1


def test_forward_does_not_change_its_input():
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    before = x.copy()
    for forward, kwargs, _ in CASES.values():
        forward(x, **kwargs)
        np.testing.assert_array_equal(x, before)


def test_registry_and_lookup():
    assert sorted(activations.ACTIVATIONS) == ["elu", "leaky_relu", "relu", "sigmoid", "tanh"]
    assert activations.get("elu") == (activations.elu_forward, activations.elu_backward)
    with pytest.raises(ValueError, match=r"'swish'.*choose one of"):
        activations.get("swish")


@pytest.mark.parametrize("forward", [activations.leaky_relu_forward, activations.elu_forward])
def test_bad_alpha_is_rejected(forward):
    with pytest.raises(ValueError, match="-0.1"):
        forward(np.ones(2), alpha=-0.1)
    with pytest.raises(TypeError, match="str"):
        forward(np.ones(2), alpha="0.1")


def test_leaky_relu_rejects_a_slope_above_one():
    with pytest.raises(ValueError, match="<= 1"):
        activations.leaky_relu_forward(np.ones(2), alpha=1.5)
