"""Tests of cs231n_lib.layers: forward and backward passes against torch and numerical gradients."""

import warnings

import numpy as np
import pytest
import torch

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def torch_forward_backward(fn, arrays, dout):
    """fn(*tensors) and the gradients of sum(fn(*tensors) * dout), by torch autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    (out * torch.as_tensor(dout, dtype=torch.float64)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def assert_close(actual, expected, name, rtol=1e-7, atol=1e-10):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=name)


# --- affine ------------------------------------------------------------------------------


def test_affine_forward_by_hand():
    x = np.array([[1.0, 2.0], [0.0, -1.0]])
    w = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    b = np.array([0.5, 0.0, 1.0])
    out, _ = affine_forward(x, w, b)
    assert_close(out, [[1.5, 2.0, 1.0], [0.5, -1.0, 2.0]], "out")


@pytest.mark.parametrize("x_shape", [(4, 6), (3, 2, 3), (2, 3, 1, 2)])
def test_affine_forward_and_backward_match_torch(rng, x_shape):
    D = int(np.prod(x_shape[1:]))
    x, w, b = rng.normal(size=x_shape), rng.normal(size=(D, 5)), rng.normal(size=5)
    dout = rng.normal(size=(x_shape[0], 5))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    ref_out, (ref_dx, ref_dw, ref_db) = torch_forward_backward(
        lambda x, w, b: x.reshape(x.shape[0], -1) @ w + b, [x, w, b], dout
    )
    assert_close(out, ref_out, "out")
    assert_close(dx, ref_dx, "dx")  # includes the shape of x, not (N, D)
    assert_close(dw, ref_dw, "dw")
    assert_close(db, ref_db, "db")


def test_affine_backward_numerically(rng):
    x, w, b = rng.normal(size=(3, 2, 2)), rng.normal(size=(4, 3)), rng.normal(size=3)
    dout = rng.normal(size=(3, 3))
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    check_gradient(
        lambda x, w, b: affine_forward(x, w, b)[0],
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
        dout=dout,
    )


def test_affine_forward_rejects_mismatched_shapes(rng):
    with pytest.raises(ValueError, match=r"D = 6 .* D = 5"):
        affine_forward(rng.normal(size=(2, 3, 2)), rng.normal(size=(5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=r"b \(3,\)"):
        affine_forward(rng.normal(size=(2, 5)), rng.normal(size=(5, 4)), np.zeros(3))


# --- relu --------------------------------------------------------------------------------


def test_relu_forward_and_backward_match_torch(rng):
    x = rng.normal(size=(4, 3, 2))
    dout = rng.normal(size=x.shape)
    out, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    ref_out, (ref_dx,) = torch_forward_backward(torch.relu, [x], dout)
    assert_close(out, ref_out, "out")
    assert_close(dx, ref_dx, "dx")


def test_relu_backward_masks_by_the_sign_of_the_input():
    x = np.array([-2.0, 0.0, 0.5, 3.0])
    dout = np.array([1.0, 1.0, -2.0, 4.0])
    assert_close(relu_backward(dout, relu_forward(x)[1]), [0.0, 0.0, -2.0, 4.0], "dx")


# --- softmax loss ------------------------------------------------------------------------


def test_softmax_loss_matches_torch(rng):
    scores = rng.normal(size=(7, 4)) * 3
    y = rng.integers(0, 4, size=7)
    loss, dscores = softmax_loss(scores, y)
    t = torch.tensor(scores, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    assert isinstance(loss, float)
    assert_close(dscores, t.grad.numpy(), "dscores")


def test_softmax_loss_of_equal_scores_is_log_num_classes():
    loss, dscores = softmax_loss(np.zeros((3, 5)), np.array([0, 4, 2]))
    assert loss == pytest.approx(np.log(5))
    assert_close(dscores.sum(axis=1), np.zeros(3), "rows of dscores sum to 0", atol=1e-15)


def test_softmax_loss_is_stable_for_huge_scores():
    scores = np.array([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        loss, dscores = softmax_loss(scores, np.array([0, 1]))
    assert loss == pytest.approx(np.log(2) / 2)
    assert_close(dscores, [[0.0, 0.0, 0.0], [0.25, -0.25, 0.0]], "dscores", atol=1e-15)


def test_softmax_loss_numerically(rng):
    scores, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    _, dscores = softmax_loss(scores, y)
    check_gradient(lambda s: softmax_loss(s, y)[0], {"s": scores}, {"s": dscores})


@pytest.mark.parametrize(
    ("scores", "y", "match"),
    [
        (np.zeros((2, 3)), np.array([0, 3]), r"0\.\.2"),
        (np.zeros((2, 3)), np.array([0, -1]), r"0\.\.2"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), "integer"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), r"\(2, 3\)"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), "no examples"),
    ],
)
def test_softmax_loss_rejects_bad_inputs(scores, y, match):
    with pytest.raises(ValueError, match=match):
        softmax_loss(scores, y)


# --- the affine-relu sandwich -------------------------------------------------------------


def test_affine_relu_matches_torch(rng):
    x, w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    ref_out, (ref_dx, ref_dw, ref_db) = torch_forward_backward(
        lambda x, w, b: torch.relu(x.reshape(x.shape[0], -1) @ w + b), [x, w, b], dout
    )
    assert (out == 0).any() and (out > 0).any(), "the test needs both ReLU states"
    assert_close(out, ref_out, "out")
    assert_close(dx, ref_dx, "dx")
    assert_close(dw, ref_dw, "dw")
    assert_close(db, ref_db, "db")
