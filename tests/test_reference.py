"""Tests of cs231n_lib.reference: torch layers against naive numpy and numerical gradients.

Forward passes are compared with loop-free numpy written from the formulas here (sliding
windows, closed forms); backward passes with centred differences of the forward. The GPU
tests at the end skip without CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from cs231n_lib import config
from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def cpu_unless_asked(monkeypatch):
    # The CPU tests compute on the CPU even on a GPU machine; GPU tests set cuda themselves.
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(231)


# --- numpy versions written from the formulas ---------------------------------------------


def np_conv(x, w, b, stride, pad):
    """Cross-correlation over 1, 2 or 3 spatial axes with sliding windows and einsum."""
    spatial = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pad, pad)] * spatial)
    axes = tuple(range(2, 2 + spatial))
    windows = sliding_window_view(xp, w.shape[2:], axis=axes)  # (N, C, *out, *kernel)
    windows = windows[(slice(None), slice(None)) + (slice(None, None, stride),) * spatial]
    letters = "xyz"[:spatial]
    kernel = "klm"[:spatial]
    out = np.einsum(f"nc{letters}{kernel},fc{kernel}->nf{letters}", windows, w)
    return out + b.reshape((1, -1) + (1,) * spatial)


def np_pool(x, height, width, stride, reduce):
    windows = sliding_window_view(x, (height, width), axis=(2, 3))[:, :, ::stride, ::stride]
    return reduce(windows, axis=(-2, -1))


def np_batchnorm(x, gamma, beta, eps, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)


def np_softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(probs[np.arange(n), y]).mean()
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def np_svm_loss(x, y):
    n = len(y)
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + 1)
    margins[np.arange(n), y] = 0
    positive = (margins > 0).astype(float)
    dx = positive.copy()
    dx[np.arange(n), y] = -positive.sum(axis=1)
    return margins.sum() / n, dx / n


# --- conversion: numpy in, numpy out; torch in, torch out ---------------------------------


def test_numpy_in_numpy_out_keeps_float_dtype(rng):
    for dtype in (np.float64, np.float32):
        x = rng.normal(size=(4, 3)).astype(dtype)
        w, b = rng.normal(size=(3, 2)).astype(dtype), np.zeros(2, dtype=dtype)
        out = ref.affine_forward(x, w, b)
        assert isinstance(out, np.ndarray) and out.dtype == dtype


def test_torch_in_torch_out_with_autograd(rng):
    x = torch.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w, b = torch.tensor(rng.normal(size=(3, 2))), torch.zeros(2, dtype=torch.float64)
    out = ref.affine_forward(x, w, b)
    assert isinstance(out, torch.Tensor) and out.device == x.device
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.tile(w.sum(1).numpy(), (4, 1)))


def test_mixed_numpy_and_torch_computes_in_torch(rng):
    scores = torch.tensor(rng.normal(size=(5, 3)))
    loss, dx = ref.softmax_loss(scores, np.array([0, 1, 2, 0, 1]))
    assert isinstance(loss, torch.Tensor) and isinstance(dx, torch.Tensor)


def test_float64_on_apple_gpu_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(config, "device", lambda: torch.device("mps"))
    assert ref.compute_device(torch.float64) == torch.device("cpu")
    assert ref.compute_device(torch.float32) == torch.device("mps")


def test_numpy_mode_uses_config_device(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")
    assert ref.compute_device() == torch.device("cpu")


def test_unsupported_numpy_dtype_is_named():
    with pytest.raises(TypeError, match="dtype <U1"):
        ref.relu_forward(np.array(["a"]))


# --- affine and ReLU -----------------------------------------------------------------------


def test_affine_forward_flattens_examples(rng):
    x, w, b = rng.normal(size=(3, 2, 4)), rng.normal(size=(8, 5)), rng.normal(size=5)
    np.testing.assert_allclose(ref.affine_forward(x, w, b), x.reshape(3, 8) @ w + b)


def test_affine_backward_matches_numerical_gradient(rng):
    x, w, b = rng.normal(size=(3, 2, 4)), rng.normal(size=(8, 5)), rng.normal(size=5)
    dout = rng.normal(size=(3, 5))
    dx, dw, db = ref.affine_backward(dout, x, w, b)
    check_gradient(
        ref.affine_forward, {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dout=dout
    )


def test_affine_rejects_mismatched_shapes(rng):
    with pytest.raises(ValueError, match=r"D = 8 features.*\(6, 5\)"):
        ref.affine_forward(rng.normal(size=(3, 2, 4)), np.zeros((6, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"b \(4,\)"):
        ref.affine_forward(np.zeros((3, 6)), np.zeros((6, 5)), np.zeros(4))


def test_relu_forward_and_backward(rng):
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(ref.relu_forward(x), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(ref.relu_backward(np.array([[5.0, 6.0, 7.0]]), x), [[0, 0, 7.0]])


def test_affine_relu_forward_is_relu_of_affine(rng):
    x, w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5)
    out = ref.affine_relu_forward(x, w, b)
    np.testing.assert_allclose(out, np.maximum(0, x.reshape(4, 6) @ w + b))
    assert (out == 0).any() and (out > 0).any(), "the case should have units on and off"


def test_affine_relu_backward_matches_numerical_gradient(rng):
    x, w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    assert np.abs(x.reshape(4, 6) @ w + b).min() > 1e-3, "an input at the kink of the ReLU"
    dx, dw, db = ref.affine_relu_backward(dout, x, w, b)
    check_gradient(
        lambda x, w, b: np.maximum(0, x.reshape(4, 6) @ w + b),
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
        dout=dout,
    )


# --- convolution and pooling ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "pad"),
    [
        ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),
        ((2, 3, 8, 6), (2, 3, 4, 2), 2, 1),
        ((1, 2, 5, 5), (3, 2, 5, 5), 1, 0),
        ((2, 2, 9), (3, 2, 3), 2, 2),  # 1D
        ((1, 2, 4, 5, 4), (2, 2, 3, 3, 3), 1, 1),  # 3D
    ],
)
def test_conv_forward_matches_sliding_windows(rng, x_shape, w_shape, stride, pad):
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    out = ref.conv_forward(x, w, b, {"stride": stride, "pad": pad})
    np.testing.assert_allclose(out, np_conv(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)


def test_conv_output_size_formula(rng):
    x, w, b = rng.normal(size=(1, 1, 32, 32)), rng.normal(size=(6, 1, 5, 5)), np.zeros(6)
    out = ref.conv_forward(x, w, b, {"stride": 3, "pad": 2})
    assert out.shape == (1, 6, (32 + 4 - 5) // 3 + 1, (32 + 4 - 5) // 3 + 1)


def test_conv_backward_matches_numerical_gradient(rng):
    x, w, b = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
    conv_param = {"stride": 2, "pad": 1}
    dout = rng.normal(size=(2, 2, 3, 3))
    dx, dw, db = ref.conv_backward(dout, x, w, b, conv_param)

    def f(x, w, b):
        return ref.conv_forward(x, w, b, conv_param)

    check_gradient(f, {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dout=dout)


def test_conv_rejects_bad_input(rng):
    x, w, b = np.zeros((1, 3, 5, 5)), np.zeros((2, 4, 3, 3)), np.zeros(2)
    with pytest.raises(ValueError, match="C = 3 channels"):
        ref.conv_forward(x, w, b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        ref.conv_forward(x, np.zeros((2, 3, 3, 3)), b, {"stride": 0, "pad": 0})
    with pytest.raises(ValueError, match="larger than the padded input"):
        ref.conv_forward(x, np.zeros((2, 3, 7, 7)), b, {"stride": 1, "pad": 0})


@pytest.mark.parametrize(("height", "width", "stride"), [(2, 2, 2), (3, 3, 2), (2, 3, 1)])
def test_pooling_forward_matches_sliding_windows(rng, height, width, stride):
    x = rng.normal(size=(2, 3, 7, 8))
    pool_param = {"pool_height": height, "pool_width": width, "stride": stride}
    np.testing.assert_allclose(
        ref.max_pool_forward(x, pool_param), np_pool(x, height, width, stride, np.max)
    )
    np.testing.assert_allclose(
        ref.avg_pool_forward(x, pool_param), np_pool(x, height, width, stride, np.mean)
    )


def test_pooling_backward_matches_numerical_gradient(rng):
    x = rng.normal(size=(2, 2, 6, 6))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout = rng.normal(size=(2, 2, 3, 3))
    for forward, backward in [
        (ref.max_pool_forward, ref.max_pool_backward),
        (ref.avg_pool_forward, ref.avg_pool_backward),
    ]:
        dx = backward(dout, x, pool_param)
        check_gradient(lambda x, f=forward: f(x, pool_param), {"x": x}, {"x": dx}, dout=dout)


def test_pooling_rejects_missing_and_oversized_windows():
    with pytest.raises(ValueError, match="missing 'stride'"):
        ref.max_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2})
    with pytest.raises(ValueError, match="window 5x5 is larger than the input"):
        ref.max_pool_forward(
            np.zeros((1, 1, 4, 4)), {"pool_height": 5, "pool_width": 5, "stride": 1}
        )


def np_im2col(x, kernel_h, kernel_w, stride, pad):
    """Row (n, i, j) = the padded window at output position (i, j) of image n, flattened."""
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out_h = (xp.shape[2] - kernel_h) // stride + 1
    out_w = (xp.shape[3] - kernel_w) // stride + 1
    rows = [
        xp[n, :, i * stride : i * stride + kernel_h, j * stride : j * stride + kernel_w].ravel()
        for n in range(x.shape[0])
        for i in range(out_h)
        for j in range(out_w)
    ]
    return np.array(rows)


@pytest.mark.parametrize(
    ("x_shape", "kernel", "stride", "pad"),
    [((2, 3, 7, 5), (3, 3), 2, 1), ((1, 2, 4, 6), (1, 3), 1, 0), ((3, 1, 6, 9), (2, 2), 3, 1)],
)
def test_im2col_rows_are_flattened_windows(rng, x_shape, kernel, stride, pad):
    x = rng.normal(size=x_shape)
    np.testing.assert_array_equal(
        ref.im2col(x, *kernel, stride, pad), np_im2col(x, *kernel, stride, pad)
    )


def test_im2col_times_filters_is_the_conv_layer(rng):
    x, w, b = rng.normal(size=(2, 3, 7, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    out = ref.im2col(x, 3, 3, 2, 1) @ w.reshape(4, -1).T + b  # (N H' W', F)
    out = out.reshape(2, 4, 3, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out, np_conv(x, w, b, 2, 1), rtol=1e-10, atol=1e-12)


def test_col2im_adds_overlapping_windows():
    counts = ref.col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, 1, 0)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@pytest.mark.parametrize(
    ("x_shape", "kernel", "stride", "pad"),
    [((2, 3, 7, 5), (3, 3), 2, 1), ((1, 2, 4, 6), (1, 3), 1, 0), ((3, 1, 6, 9), (2, 2), 3, 1)],
)
def test_col2im_is_the_adjoint_of_im2col(rng, x_shape, kernel, stride, pad):
    # <im2col(x), cols> = <x, col2im(cols)> for every x and cols: col2im is im2col's backward.
    x = rng.normal(size=x_shape)
    cols = rng.normal(size=np_im2col(x, *kernel, stride, pad).shape)
    dx = ref.col2im(cols, x_shape, *kernel, stride, pad)
    assert dx.shape == x_shape
    np.testing.assert_allclose(np.sum(np_im2col(x, *kernel, stride, pad) * cols), np.sum(x * dx))
    jacobian_t = [np_im2col(e.reshape(x_shape), *kernel, stride, pad) for e in np.eye(x.size)]
    np.testing.assert_allclose(dx.ravel(), [np.sum(row * cols) for row in jacobian_t])


def test_im2col_and_col2im_reject_bad_settings(rng):
    with pytest.raises(ValueError, match="must be \\(N, C, H, W\\)"):
        ref.im2col(np.zeros((3, 5, 5)), 2, 2, 1, 0)
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        ref.im2col(np.zeros((1, 1, 5, 5)), 2, 2, 0, 0)
    with pytest.raises(ValueError, match="window 6x2 is larger than the padded input"):
        ref.im2col(np.zeros((1, 1, 5, 5)), 6, 2, 1, 0)
    with pytest.raises(ValueError, match="cols must have shape \\(16, 4\\)"):
        ref.col2im(np.zeros((16, 5)), (1, 1, 5, 5), 2, 2, 1, 0)


def test_im2col_and_col2im_stay_in_torch_for_tensors(rng):
    x = torch.tensor(rng.normal(size=(2, 2, 4, 4)), requires_grad=True)
    cols = ref.im2col(x, 2, 2, 2, 0)
    assert isinstance(cols, torch.Tensor) and cols.shape == (8, 8)
    (dx,) = torch.autograd.grad(cols, x, torch.ones_like(cols))
    np.testing.assert_array_equal(ref.col2im(torch.ones_like(cols), x.shape, 2, 2, 2, 0), dx)


# --- normalization -------------------------------------------------------------------------


def test_batchnorm_train_mode_normalizes_and_updates_running_averages(rng):
    x = rng.normal(3.0, 2.0, size=(50, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    bn_param = {"mode": "train", "momentum": 0.8, "running_mean": np.ones(4)}
    out = ref.batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, np_batchnorm(x, gamma, beta, 1e-5, 0), rtol=1e-10)
    # the course's momentum, the biased variance, a missing running_var starting at 0
    np.testing.assert_allclose(bn_param["running_mean"], 0.8 + 0.2 * x.mean(axis=0))
    np.testing.assert_allclose(bn_param["running_var"], 0.2 * x.var(axis=0))
    assert isinstance(bn_param["running_mean"], np.ndarray)


def test_batchnorm_test_mode_uses_running_averages(rng):
    x = rng.normal(size=(5, 3))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    bn_param = {"mode": "test", "running_mean": mean, "running_var": var, "eps": 1e-3}
    out = ref.batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta)
    assert bn_param["running_mean"] is mean  # test mode leaves them alone


def test_batchnorm_backward_matches_numerical_gradient_and_keeps_bn_param(rng):
    x, gamma, beta = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=4)
    dout = rng.normal(size=(6, 4))
    bn_param = {"mode": "train"}
    dx, dgamma, dbeta = ref.batchnorm_backward(dout, x, gamma, beta, bn_param)
    assert bn_param == {"mode": "train"}

    def f(x, gamma, beta):
        return ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})

    check_gradient(
        f,
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
    )
    # the paths through the batch statistics make dx sum to zero over the batch
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-10)


def test_spatial_batchnorm_normalizes_per_channel(rng):
    x = rng.normal(1.0, 3.0, size=(3, 2, 4, 5))
    gamma, beta = rng.normal(size=2), rng.normal(size=2)
    bn_param = {"mode": "train"}
    out = ref.spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, np_batchnorm(x, gamma, beta, 1e-5, (0, 2, 3)), rtol=1e-9)
    assert bn_param["running_mean"].shape == (2,)
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = ref.spatial_batchnorm_backward(dout, x, gamma, beta, {"mode": "train"})
    check_gradient(
        lambda x, gamma, beta: ref.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"}),
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
        num_checks=20,
    )


def test_batchnorm_rejects_bad_settings(rng):
    x, gamma = np.zeros((4, 3)), np.ones(3)
    with pytest.raises(ValueError, match=r"'mode'\] must be one of .* got 'eval'"):
        ref.batchnorm_forward(x, gamma, gamma, {"mode": "eval"})
    with pytest.raises(ValueError, match=r"shape \(3,\) for x \(4, 3\), got \(2,\)"):
        ref.batchnorm_forward(x, np.ones(2), np.ones(2), {"mode": "train"})
    with pytest.raises(ValueError, match=r"running_var'\] must have shape \(3,\)"):
        ref.batchnorm_forward(x, gamma, gamma, {"mode": "test", "running_var": np.ones(5)})
    with pytest.raises(ValueError, match=r"x must be \(N, C, H, W\), got shape \(4, 3\)"):
        ref.spatial_batchnorm_forward(x, gamma, gamma, {"mode": "train"})


def test_layernorm_normalizes_each_row(rng):
    x = rng.normal(2.0, 3.0, size=(4, 6))
    gamma, beta = rng.normal(size=6), rng.normal(size=6)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(ref.layernorm_forward(x, gamma, beta, {}), expected, rtol=1e-9)
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = ref.layernorm_backward(dout, x, gamma, beta)
    check_gradient(
        lambda x, gamma, beta: ref.layernorm_forward(x, gamma, beta),
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
    )


def test_groupnorm_normalizes_groups_of_channels(rng):
    x = rng.normal(size=(2, 6, 3, 4))
    gamma, beta = rng.normal(size=(1, 6, 1, 1)), rng.normal(size=(1, 6, 1, 1))
    groups = x.reshape(2, 3, -1)  # G = 3 groups of 2 channels
    normed = (groups - groups.mean(axis=2, keepdims=True)) / np.sqrt(
        groups.var(axis=2, keepdims=True) + 1e-5
    )
    expected = gamma * normed.reshape(x.shape) + beta
    out = ref.spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 1e-5})
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = ref.spatial_groupnorm_backward(dout, x, gamma, beta, 3)
    assert dgamma.shape == gamma.shape
    check_gradient(
        lambda x, gamma, beta: ref.spatial_groupnorm_forward(x, gamma, beta, 3),
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
        dout=dout,
        num_checks=20,
    )
    with pytest.raises(ValueError, match="divisor of the 6 channels, got 4"):
        ref.spatial_groupnorm_forward(x, gamma, beta, 4)


# --- losses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss_fn", "np_fn"), [(ref.softmax_loss, np_softmax_loss), (ref.svm_loss, np_svm_loss)]
)
def test_losses_match_closed_forms(rng, loss_fn, np_fn):
    x, y = rng.normal(size=(7, 5)), rng.integers(0, 5, size=7)
    loss, dx = loss_fn(x, y)
    expected_loss, expected_dx = np_fn(x, y)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-10, atol=1e-14)


def test_softmax_loss_of_equal_scores_is_log_c():
    loss, _ = ref.softmax_loss(np.zeros((3, 10)), np.array([0, 4, 9]))
    assert loss == pytest.approx(np.log(10))


def test_losses_reject_bad_labels(rng):
    x = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in 0..3 .* got 0..4"):
        ref.softmax_loss(x, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="must be integers"):
        ref.svm_loss(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y \(2,\)"):
        ref.svm_loss(x, np.array([0, 1]))


# --- vjp -----------------------------------------------------------------------------------


def test_vjp_of_any_function(rng):
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    dout = rng.normal(size=(3, 2))
    dx, dw = ref.vjp(lambda x, w: torch.tanh(x @ w), (x, w), dout)
    check_gradient(lambda x, w: np.tanh(x @ w), {"x": x, "w": w}, {"x": dx, "w": dw}, dout=dout)
    (dsum,) = ref.vjp(lambda x: (x**2).sum(), (x,))
    np.testing.assert_allclose(dsum, 2 * x)


def test_vjp_needs_dout_for_arrays_and_leaves_inputs_alone(rng):
    x = rng.normal(size=(3, 4))
    before = x.copy()
    with pytest.raises(ValueError, match=r"shape \(3, 4\); pass dout"):
        ref.vjp(torch.relu, (x,))
    with pytest.raises(ValueError, match=r"dout has shape \(2,\)"):
        ref.vjp(torch.relu, (x,), np.zeros(2))
    ref.vjp(torch.relu, (x,), np.ones_like(x))
    np.testing.assert_array_equal(x, before)


def test_vjp_of_unused_input_is_zero(rng):
    x, unused = rng.normal(size=3), rng.normal(size=2)
    _, d_unused = ref.vjp(lambda x, u: x.sum(), (x, unused))
    np.testing.assert_array_equal(d_unused, np.zeros(2))


# --- activations and the fully connected network (04_training) -----------------------------

ACTIVATION_FORMULAS = {  # name -> (f(x, alpha), f'(x, alpha) with the left derivative at 0)
    "sigmoid": (lambda x, a: 1 / (1 + np.exp(-x)), lambda x, a: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "tanh": (lambda x, a: np.tanh(x), lambda x, a: 1 / np.cosh(x) ** 2),
    "leaky_relu": (lambda x, a: np.where(x > 0, x, a * x), lambda x, a: np.where(x > 0, 1.0, a)),
    "elu": (
        lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
        lambda x, a: np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0))),
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_FORMULAS))
def test_activations_match_closed_forms(rng, name):
    f, df = ACTIVATION_FORMULAS[name]
    forward, backward = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    x, dout = 3 * rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))
    x.flat[:3] = [0.0, -1e-3, 1e-3]  # the kink and both sides of it
    default = {"leaky_relu": 0.01, "elu": 1.0}.get(name)
    alphas = [None] if default is None else [None, 0.3, 2.0]
    for alpha in alphas:
        kwargs = {} if alpha is None else {"alpha": alpha}
        a = default if alpha is None else alpha
        np.testing.assert_allclose(forward(x, **kwargs), f(x, a), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            backward(dout, x, **kwargs), dout * df(x, a), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("name", sorted(ACTIVATION_FORMULAS))
def test_activation_backward_matches_numerical_gradient(rng, name):
    forward, backward = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    x = rng.uniform(0.1, 3, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))  # off the kink
    dout = rng.normal(size=(4, 5))
    check_gradient(forward, {"x": x}, {"x": backward(dout, x)}, dout=dout)


def test_activations_in_cached_form_keep_alpha(rng):
    forward, backward = ref.cached(ref.leaky_relu_forward, ref.leaky_relu_backward)
    x = np.array([-2.0, 0.0, 3.0])
    out, cache = forward(x, 0.5)
    np.testing.assert_allclose(out, [-1.0, 0.0, 3.0])
    np.testing.assert_allclose(backward(np.ones(3), cache), [0.5, 0.5, 1.0])


def np_fc_net_loss(params, X, y, reg, f):
    """Scores and loss of {affine - f} x (L - 1) - affine - softmax + 0.5 reg sum W^2."""
    num_layers = len(params) // 2
    h = X.reshape(len(X), -1)
    for layer in range(1, num_layers):
        h = f(h @ params[f"W{layer}"] + params[f"b{layer}"])
    scores = h @ params[f"W{num_layers}"] + params[f"b{num_layers}"]
    loss, _ = np_softmax_loss(scores, y)
    penalty = sum(np.sum(params[f"W{layer}"] ** 2) for layer in range(1, num_layers + 1))
    return scores, loss + 0.5 * reg * penalty


def random_fc_params(rng, dims):
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
        params[f"W{layer}"] = rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)
        params[f"b{layer}"] = rng.normal(size=fan_out)
    return params


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu", "elu"])
def test_fc_net_matches_numpy_and_numerical_gradients(rng, name):
    if name == "relu":
        f = lambda x: np.maximum(x, 0)  # noqa: E731
    else:
        alpha = {"leaky_relu": 0.01, "elu": 1.0}.get(name)
        f = lambda x: ACTIVATION_FORMULAS[name][0](x, alpha)  # noqa: E731
    params = random_fc_params(rng, [6, 5, 4, 3])
    X, y = rng.normal(size=(4, 2, 3)), np.array([0, 2, 1, 2])
    net = ref.FullyConnectedNet(params, reg=0.3, activation=name)
    expected_scores, expected_loss = np_fc_net_loss(params, X, y, 0.3, f)
    np.testing.assert_allclose(net.loss(X), expected_scores, rtol=1e-12)
    loss, grads = net.loss(X, y)
    assert isinstance(loss, float) and loss == pytest.approx(expected_loss, rel=1e-12)
    assert sorted(grads) == sorted(params)
    for key in params:

        def loss_of(value, key=key):
            changed = ref.FullyConnectedNet({**params, key: value}, reg=0.3, activation=name)
            return changed.loss(X, y)[0]

        check_gradient(loss_of, {"value": params[key]}, {"value": grads[key]})


def test_fc_net_trains_with_the_solver(rng):
    from cs231n_lib.solver import Solver

    params = random_fc_params(rng, [4, 8, 3])
    X = rng.normal(size=(30, 4))
    y = np.argmax(X[:, :3], axis=1)
    net = ref.FullyConnectedNet(params)
    solver = Solver(
        net,
        {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
        optim_config={"learning_rate": 0.5},
        batch_size=10,
        num_epochs=20,
        progress=False,
    )
    solver.train()
    assert net.params is params  # the Solver replaced the entries of the dict it was given
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert solver.train_acc_history[-1] > 0.8


def test_fc_net_promotes_mixed_dtypes_like_numpy(rng):
    params = random_fc_params(rng, [6, 4, 3])
    params["W2"] = params["W2"].astype(np.float32)
    X, y = rng.normal(size=(5, 6)).astype(np.float32), np.array([0, 1, 2, 0, 1])
    net = ref.FullyConnectedNet(params)
    scores = net.loss(X)
    assert scores.dtype == np.float64  # as float32 @ float64 in numpy
    expected = np_fc_net_loss(params, X, y, 0.0, lambda x: np.maximum(x, 0))[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    _, grads = net.loss(X, y)
    assert {name: g.dtype for name, g in grads.items()} == {
        name: p.dtype for name, p in params.items()
    }


def test_fc_net_rejects_bad_names_and_activations():
    with pytest.raises(ValueError, match=r"W1, b1, \.\.\., WL, bL; got \['W1', 'W2', 'b1'\]"):
        ref.FullyConnectedNet({"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        ref.FullyConnectedNet({"W1": np.zeros((2, 2)), "b1": np.zeros(2)}, activation="swish")


# --- GPU -----------------------------------------------------------------------------------


@needs_cuda
def test_numpy_mode_on_gpu_matches_cpu(monkeypatch, rng):
    x, w, b = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    dout = rng.normal(size=(2, 4, 8, 8))
    conv_param = {"stride": 1, "pad": 1}
    on_cpu = ref.conv_backward(dout, x, w, b, conv_param)
    monkeypatch.setenv("CS231N_DEVICE", "cuda")
    assert ref.compute_device().type == "cuda"
    on_gpu = ref.conv_backward(dout, x, w, b, conv_param)
    for a, g in zip(on_cpu, on_gpu, strict=True):
        assert isinstance(g, np.ndarray)
        np.testing.assert_allclose(g, a, rtol=1e-10, atol=1e-12)
    bn_param = {"mode": "train"}
    out = ref.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
    np.testing.assert_allclose(out, np_batchnorm(x, np.ones(3), np.zeros(3), 1e-5, (0, 2, 3)))
    assert isinstance(bn_param["running_var"], np.ndarray)
    loss, dx = ref.softmax_loss(rng.normal(size=(4, 3)), np.array([0, 1, 2, 0]))
    assert isinstance(loss, float) and isinstance(dx, np.ndarray)


@needs_cuda
def test_tensors_on_gpu_stay_there(rng):
    x = torch.tensor(rng.normal(size=(2, 3, 6, 6)), device="cuda")
    out = ref.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.device.type == "cuda"
    dx = ref.max_pool_backward(
        torch.ones_like(out), x, {"pool_height": 2, "pool_width": 2, "stride": 2}
    )
    assert dx.device.type == "cuda"
