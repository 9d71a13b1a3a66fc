"""cs231n_lib.layers.conv against torch (conv2d, unfold/fold, max_pool2d, avg_pool2d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import eval_numerical_gradient_array, rel_error
from cs231n_lib.layers import conv as cl

# (N, C, H, W), (F, HH, WW), stride, pad: non-square inputs and kernels, strides 1..3
CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3), 1, 1),
    ((1, 2, 9, 7), (3, 3, 1), 2, 0),
    ((3, 1, 9, 13), (2, 2, 3), 3, 1),
    ((2, 4, 6, 5), (5, 4, 3), 1, 2),
]
POOL_CASES = [((2, 3, 8, 8), 2, 2, 2), ((1, 2, 7, 9), 3, 3, 2), ((2, 1, 6, 5), 2, 3, 1)]


def _conv_inputs(case, seed=0):
    x_shape, (num_filters, kh, kw), stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((num_filters, x_shape[1], kh, kw))
    b = rng.standard_normal(num_filters)
    return x, w, b, {"stride": stride, "pad": pad}


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize(
    "forward,backward",
    [
        (cl.conv_forward_naive, cl.conv_backward_naive),
        (cl.conv_forward_im2col, cl.conv_backward_im2col),
    ],
    ids=["naive", "im2col"],
)
def test_conv_matches_torch(case, forward, backward):
    x, w, b, conv_param = _conv_inputs(case)
    out, cache = forward(x, w, b, conv_param)
    expected = ref.conv_forward(x, w, b, conv_param)
    assert out.shape == expected.shape, f"{out.shape} vs {expected.shape}"
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    for name, got, want in zip(
        ("dx", "dw", "db"),
        backward(dout, cache),
        ref.conv_backward(dout, x, w, b, conv_param),
        strict=True,
    ):
        assert got.shape == want.shape, f"{name}: {got.shape} vs {want.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("forward", [cl.conv_forward_naive, cl.conv_forward_im2col])
def test_conv_is_cross_correlation_not_convolution(forward):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, _ = forward(x, w, np.zeros(1), {"stride": 1, "pad": 0})
    # top-left window [[0, 1], [3, 4]] times the unflipped kernel; a flipped one gives 13
    assert out[0, 0, 0, 0] == 0 * 1 + 1 * 2 + 3 * 3 + 4 * 4


def test_conv_backward_matches_numerical_gradient():
    x, w, b, conv_param = _conv_inputs(CONV_CASES[2], seed=3)
    out, cache = cl.conv_forward_im2col(x, w, b, conv_param)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx, dw, _ = cl.conv_backward_im2col(dout, cache)
    num_dx = eval_numerical_gradient_array(
        lambda v: cl.conv_forward_im2col(v, w, b, conv_param)[0], x.copy(), dout
    )
    num_dw = eval_numerical_gradient_array(
        lambda v: cl.conv_forward_im2col(x, v, b, conv_param)[0], w.copy(), dout
    )
    assert rel_error(dx, num_dx) < 1e-7
    assert rel_error(dw, num_dw) < 1e-7


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_and_col2im_match_unfold_and_fold(case):
    x, w, _, conv_param = _conv_inputs(case)
    kh, kw = w.shape[2:]
    stride, pad = conv_param["stride"], conv_param["pad"]
    cols = cl.im2col(x, kh, kw, stride, pad)
    unfolded = F.unfold(torch.from_numpy(x), (kh, kw), padding=pad, stride=stride)  # (N, CKK, L)
    expected = unfolded.transpose(1, 2).reshape(-1, unfolded.shape[1]).numpy()
    np.testing.assert_array_equal(cols, expected)
    dcols = np.random.default_rng(5).standard_normal(cols.shape)
    per_image = torch.from_numpy(dcols).reshape(x.shape[0], -1, cols.shape[1]).transpose(1, 2)
    folded = F.fold(per_image, x.shape[2:], (kh, kw), padding=pad, stride=stride).numpy()
    np.testing.assert_allclose(cl.col2im(dcols, x.shape, kh, kw, stride, pad), folded, atol=1e-12)


@pytest.mark.parametrize(
    "size,kernel,pad,stride,expected", [(32, 3, 1, 1, 32), (7, 3, 0, 2, 3), (5, 5, 0, 1, 1)]
)
def test_output_size(size, kernel, pad, stride, expected):
    assert cl.output_size(size, kernel, pad, stride) == expected


def test_output_size_that_is_not_an_integer_raises():
    x, w, b, _ = _conv_inputs(CONV_CASES[0])  # (7 - 3 + 0) / 3 + 1 is not whole
    for forward in (cl.conv_forward_naive, cl.conv_forward_im2col):
        with pytest.raises(ValueError, match="not an integer"):
            forward(x, w, b, {"stride": 3, "pad": 0})
    with pytest.raises(ValueError, match="larger than"):
        cl.output_size(3, 5, 0, 1)
    with pytest.raises(ValueError, match="not an integer"):
        cl.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})


@pytest.mark.parametrize("bad", [{"stride": 0, "pad": 0}, {"stride": 1, "pad": -1}])
def test_conv_rejects_bad_params(bad):
    x, w, b, _ = _conv_inputs(CONV_CASES[0])
    with pytest.raises(ValueError, match="must be an integer"):
        cl.conv_forward_im2col(x, w, b, bad)


def test_conv_rejects_channel_mismatch():
    x, w, b, conv_param = _conv_inputs(CONV_CASES[0])
    with pytest.raises(ValueError, match="same C"):
        cl.conv_forward_naive(x, w[:, :2], b, conv_param)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize(
    "forward,backward,ref_forward,ref_backward",
    [
        (cl.max_pool_forward, cl.max_pool_backward, ref.max_pool_forward, ref.max_pool_backward),
        (cl.avg_pool_forward, cl.avg_pool_backward, ref.avg_pool_forward, ref.avg_pool_backward),
    ],
    ids=["max", "avg"],
)
def test_pooling_matches_torch(case, forward, backward, ref_forward, ref_backward):
    x_shape, pool_h, pool_w, stride = case
    pool_param = {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}
    x = np.random.default_rng(0).standard_normal(x_shape)
    out, cache = forward(x, pool_param)
    np.testing.assert_allclose(out, ref_forward(x, pool_param), rtol=1e-12)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    np.testing.assert_allclose(
        backward(dout, cache), ref_backward(dout, x, pool_param), rtol=1e-12, atol=1e-12
    )


def test_max_pool_backward_routes_to_one_element_per_window():
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    _, cache = cl.max_pool_forward(x, pool_param)
    dx = cl.max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert np.count_nonzero(dx) == 4 and dx.sum() == 4


def test_conv_relu_pool_matches_torch():
    x, w, b, conv_param = _conv_inputs(CONV_CASES[0], seed=7)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}

    def block(x, w, b):
        return F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2, stride=1)

    out, cache = cl.conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    expected = block(xt, wt, bt)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = np.random.default_rng(8).standard_normal(out.shape)
    expected.backward(torch.from_numpy(dout))
    for got, want in zip(cl.conv_relu_pool_backward(dout, cache), (xt, wt, bt), strict=True):
        np.testing.assert_allclose(got, want.grad.numpy(), rtol=1e-9, atol=1e-12)
