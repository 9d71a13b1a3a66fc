"""Tests of cs231n_lib.gradcheck: numerical gradients against torch autograd and closed forms."""

import re

import numpy as np
import pytest
import torch

from cs231n_lib.gradcheck import (
    check_gradient,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def tanh_layer(x, W):
    return np.tanh(x @ W)  # (N, D) @ (D, M) -> (N, M)


def softmax_loss(scores, y):
    """Mean cross-entropy of (N, C) scores against (N,) labels, numerically stable."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


def torch_grads(fn, arrays, dout=None):
    """Gradients of fn(*tensors) (summed with dout when given) by torch autograd, as numpy."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    loss = out if dout is None else (out * torch.as_tensor(dout)).sum()
    loss.backward()
    return [t.grad.numpy() for t in tensors]


# --- rel_error ---------------------------------------------------------------------------


def test_rel_error_known_values():
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # max over entries, not the mean
    assert rel_error(np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 3.0])) == pytest.approx(0.5)


def test_rel_error_symmetric_scale_invariant_and_float(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert rel_error(x, y) == pytest.approx(rel_error(y, x))
    assert rel_error(1e6 * x, 1e6 * y) == pytest.approx(rel_error(x, y))
    assert type(rel_error(x, y)) is float


def test_rel_error_floor_of_1e_8():
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error(0.0, 1e-10) == pytest.approx(1e-2)


def test_rel_error_nan_and_shape_mismatch():
    assert np.isnan(rel_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


# --- eval_numerical_gradient -------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2)])
def test_numerical_gradient_of_sum_of_squares_is_2x(rng, shape):
    x = rng.standard_normal(shape)
    grad = eval_numerical_gradient(lambda x: np.sum(x**2), x)
    assert grad.shape == x.shape
    assert rel_error(grad, 2 * x) < 1e-8


def test_numerical_gradient_of_softmax_loss_matches_torch(rng):
    scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    numeric = eval_numerical_gradient(lambda s: softmax_loss(s, y), scores)
    (expected,) = torch_grads(
        lambda s: torch.nn.functional.cross_entropy(s, torch.as_tensor(y)), [scores]
    )
    assert rel_error(numeric, expected) < 1e-7


def test_numerical_gradient_restores_x_exactly(rng):
    x = rng.standard_normal((3, 4))
    x_before = x.copy()
    eval_numerical_gradient(lambda x: np.sum(np.sin(x)), x)
    np.testing.assert_array_equal(x, x_before)


def test_numerical_gradient_restores_x_when_f_raises(rng):
    x = rng.standard_normal((3, 4))
    x_before = x.copy()
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 4:  # the minus side of entry (0, 1)
            raise RuntimeError("boom")
        return np.sum(x)

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x)
    np.testing.assert_array_equal(x, x_before)


def test_numerical_gradient_float32_is_still_accurate(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    grad = eval_numerical_gradient(lambda x: np.sum(x.astype(np.float64) ** 2), x, h=1e-3)
    assert rel_error(grad, 2 * x.astype(np.float64)) < 1e-6


def test_numerical_gradient_rejects_bad_x_and_h():
    with pytest.raises(TypeError, match="int64"):
        eval_numerical_gradient(lambda x: np.sum(x), np.arange(3))
    with pytest.raises(TypeError, match="list"):
        eval_numerical_gradient(lambda x: np.sum(x), [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        eval_numerical_gradient(lambda x: np.sum(x), np.zeros(3), h=0.0)


def test_numerical_gradient_explains_non_scalar_f(rng):
    x = rng.standard_normal(3)
    with pytest.raises(TypeError, match=r"shape \(3,\).*eval_numerical_gradient_array"):
        eval_numerical_gradient(lambda x: 2 * x, x)
    with pytest.raises(TypeError, match=r"tuple of 2.*\[0\]"):
        eval_numerical_gradient(lambda x: (np.sum(x), {"x": x}), x)


# --- eval_numerical_gradient_array -------------------------------------------------------


def test_numerical_gradient_array_of_tanh_layer_matches_torch(rng):
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 3))
    dx = eval_numerical_gradient_array(lambda x: tanh_layer(x, W), x, dout)
    dW = eval_numerical_gradient_array(lambda W: tanh_layer(x, W), W, dout)
    expected_dx, expected_dW = torch_grads(lambda x, W: torch.tanh(x @ W), [x, W], dout)
    assert dx.shape == x.shape and dW.shape == W.shape
    assert rel_error(dx, expected_dx) < 1e-7
    assert rel_error(dW, expected_dW) < 1e-7


def test_numerical_gradient_array_copies_an_output_that_aliases_x(rng):
    # f returns x itself: without a copy the "plus" output would change with x
    x, dout = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    dx = eval_numerical_gradient_array(lambda x: x, x, dout)
    assert rel_error(dx, dout) < 1e-8


def test_numerical_gradient_array_restores_x_and_checks_dout_shape(rng):
    x = rng.standard_normal((3, 2))
    x_before = x.copy()
    eval_numerical_gradient_array(np.exp, x, rng.standard_normal((3, 2)))
    np.testing.assert_array_equal(x, x_before)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        eval_numerical_gradient_array(np.exp, x, np.ones((2, 3)))
    np.testing.assert_array_equal(x, x_before)


# --- grad_check_sparse -------------------------------------------------------------------


def test_grad_check_sparse_entries_and_values(rng, capsys):
    x = rng.standard_normal((5, 6))
    analytic = 2 * x
    results = grad_check_sparse(lambda x: np.sum(x**2), x, analytic, num_checks=7)
    assert len(results) == 7
    indices = [index for index, *_ in results]
    assert len(set(indices)) == 7  # distinct entries
    everything = grad_check_sparse(lambda x: np.sum(x**2), x, analytic, num_checks=x.size)
    assert sorted(r[0] for r in everything) == list(np.ndindex(x.shape))
    for index, a, n, err in results:
        assert isinstance(index, tuple) and all(type(i) is int for i in index)
        assert a == analytic[index]
        assert n == pytest.approx(2 * x[index], rel=1e-8)
        assert err < 1e-8
    assert capsys.readouterr() == ("", "")


def test_grad_check_sparse_is_deterministic_for_a_seed(rng):
    x = rng.standard_normal((10, 10))

    def indices(seed):
        return [r[0] for r in grad_check_sparse(np.sum, x, np.ones_like(x), seed=seed)]

    assert indices(3) == indices(3)
    assert indices(3) != indices(4)


def test_grad_check_sparse_reports_a_wrong_gradient(rng):
    x = rng.standard_normal(4)
    results = grad_check_sparse(lambda x: np.sum(x**2), x, x, num_checks=10)
    assert sorted(r[0] for r in results) == [(0,), (1,), (2,), (3,)]  # each entry once
    for _, a, n, err in results:
        assert n == pytest.approx(2 * a)
        assert err == pytest.approx(1 / 3)


# --- check_gradient ----------------------------------------------------------------------


def tanh_layer_grads(x, W, dout):
    dpre = (1 - np.tanh(x @ W) ** 2) * dout  # (N, M)
    return {"x": dpre @ W.T, "W": x.T @ dpre}


def test_check_gradient_passes_correct_gradients(rng):
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 3))
    inputs = {"x": x, "W": W}
    before = {k: v.copy() for k, v in inputs.items()}
    check_gradient(tanh_layer, inputs, tanh_layer_grads(x, W, dout), dout=dout)
    for name in inputs:
        np.testing.assert_array_equal(inputs[name], before[name])


def test_check_gradient_scalar_loss_with_integer_labels(rng):
    scores, y = rng.standard_normal((5, 3)), rng.integers(0, 3, size=5)
    (dscores,) = torch_grads(
        lambda s: torch.nn.functional.cross_entropy(s, torch.as_tensor(y)), [scores]
    )
    check_gradient(softmax_loss, {"scores": scores, "y": y}, {"scores": dscores})
    check_gradient(softmax_loss, {"scores": scores, "y": y}, {"scores": dscores}, num_checks=4)


def test_check_gradient_names_argument_index_and_values(rng):
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 3))
    grads = tanh_layer_grads(x, W, dout)
    right = grads["W"][3, 2]
    grads["W"][3, 2] += 0.5
    with pytest.raises(AssertionError) as info:
        check_gradient(tanh_layer, {"x": x, "W": W}, grads, dout=dout)
    message = str(info.value)
    assert message.startswith("gradient of 'W' is wrong at index (3, 2): ")
    assert f"analytic {right + 0.5:.6g}, numeric {right:.6g}" in message
    assert re.search(r"relative error \d\.\de[+-]\d\d \(allowed 1e-06\)", message)
    assert "'x'" not in message
    assert "1 of 15 checked entries" in message


def test_check_gradient_reports_every_wrong_argument(rng):
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 3))
    grads = tanh_layer_grads(x, W, dout)
    wrong = {"x": grads["x"], "W": grads["W"].T.reshape(W.shape)}  # a forgotten transpose
    wrong["x"] = 2 * wrong["x"]
    with pytest.raises(AssertionError, match=r"(?s)gradient of 'x' is wrong.*gradient of 'W'"):
        check_gradient(tanh_layer, {"x": x, "W": W}, wrong, dout=dout)


def test_check_gradient_sparse_catches_a_wrong_gradient_deterministically(rng):
    x = rng.standard_normal((6, 6))
    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError, match="gradient of 'x' is wrong") as info:
            check_gradient(lambda x: np.sum(x**2), {"x": x}, {"x": x}, num_checks=5, seed=1)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "of 5 checked entries" in messages[0]


def test_check_gradient_floor_ignores_rounding_noise_on_zero_gradients(rng):
    x = rng.standard_normal((4, 5))

    def f(x):
        return np.sum((x + 0.1) * 3 - 3 * x)  # constant in x, up to rounding

    assert np.any(eval_numerical_gradient(f, x.copy()) != 0)  # there is noise to ignore
    check_gradient(f, {"x": x}, {"x": np.zeros_like(x)})
    # ...but a small real gradient is not hidden by the floor
    with pytest.raises(AssertionError, match="gradient of 'x' is wrong"):
        check_gradient(lambda x: 1e-6 * np.sum(x), {"x": x}, {"x": np.zeros_like(x)})


def test_check_gradient_nan_is_wrong(rng):
    x = rng.standard_normal(3)
    grad = 2 * x
    grad[1] = np.nan
    with pytest.raises(AssertionError, match=r"index \(1,\): analytic nan"):
        check_gradient(lambda x: np.sum(x**2), {"x": x}, {"x": grad})


def test_check_gradient_shape_mismatch_names_both_shapes(rng):
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    with pytest.raises(AssertionError, match=r"gradient of 'W' has shape \(3, 5\).*\(5, 3\)"):
        check_gradient(lambda x, W: np.sum(x @ W), {"x": x, "W": W}, {"W": np.zeros((3, 5))})


def test_check_gradient_none_gradient(rng):
    x = rng.standard_normal(3)
    with pytest.raises(AssertionError, match="gradient of 'x' is None"):
        check_gradient(lambda x: np.sum(x), {"x": x}, {"x": None})


def test_check_gradient_unknown_argument_is_value_error(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"\['b'\].*\['x'\]"):
        check_gradient(lambda x: np.sum(x), {"x": x}, {"b": np.ones(3)})


def test_check_gradient_dout_shape_mismatch(rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match=r"f\(x\) has shape \(2, 3\) but dout has shape \(3,\)"):
        check_gradient(lambda x: np.tanh(x), {"x": x}, {"x": np.ones((2, 3))}, dout=np.ones(3))
