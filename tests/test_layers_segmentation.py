"""cs231n_lib.layers.segmentation against the torch oracles of cs231n_lib.reference.segmentation
(F.cross_entropy, F.interpolate, F.max_pool2d / F.max_unpool2d, F.conv_transpose2d),
numerical gradients, direct loops and hand-computed cases; the bilinear kernel against
F.interpolate. Shapes are chosen so that no two axes have one length: a softmax or a sum
over the wrong axis changes the numbers instead of passing by luck."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import conv as conv_layers
from cs231n_lib.layers import core
from cs231n_lib.layers import segmentation as B
from cs231n_lib.reference import segmentation as R

VOID = 255


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


def scores_and_labels(rng, shape=(2, 3, 4, 5), void_share=0.0):
    """Scores (N, C, H, W) and labels (N, H, W), a share of them VOID."""
    N, C, H, W = shape
    scores = rng.normal(scale=2.0, size=shape)
    y = rng.integers(0, C, (N, H, W))
    y[rng.random((N, H, W)) < void_share] = VOID
    return scores, y


# --- per-pixel cross-entropy ---------------------------------------------------------------


def test_pixel_softmax_loss_by_hand():
    # Two classes, equal scores: -log(1/2) at every pixel; dscores = (1/2 - onehot) / 4.
    scores = np.zeros((1, 2, 2, 2))
    y = np.array([[[0, 1], [1, 1]]])
    loss, dscores = B.pixel_softmax_loss(scores, y)
    assert loss == pytest.approx(math.log(2))
    want = np.full((1, 2, 2, 2), 0.5 / 4)
    want[0, 0, 0, 0] = want[0, 1, 0, 1] = want[0, 1, 1, 0] = want[0, 1, 1, 1] = -0.5 / 4
    np.testing.assert_allclose(dscores, want, rtol=1e-12)
    # Weights 1 and 3: pixel losses log 2 each, mean weighted by 1 + 3 + 3 + 3 = 10.
    loss, dscores = B.pixel_softmax_loss(scores, y, class_weights=[1.0, 3.0])
    assert loss == pytest.approx(math.log(2))  # equal pixel losses: any weighted mean
    np.testing.assert_allclose(dscores[0, :, 0, 0], [-0.5 / 10, 0.5 / 10], rtol=1e-12)
    np.testing.assert_allclose(dscores[0, :, 1, 1], [1.5 / 10, -1.5 / 10], rtol=1e-12)


def test_pixel_softmax_loss_is_a_weighted_mean_of_pixel_losses():
    # Class 0 is certain (loss ~ 0), class 1 uncertain (log 2): weights move the mean.
    scores = np.zeros((1, 2, 1, 2))
    scores[0, 0, 0, 0] = 50.0
    y = np.array([[[0, 1]]])
    for weights, want in (([1.0, 1.0], math.log(2) / 2), ([1.0, 3.0], 3 * math.log(2) / 4)):
        loss, _ = B.pixel_softmax_loss(scores, y, class_weights=weights)
        assert loss == pytest.approx(want, rel=1e-12)


CASES = {
    "plain": dict(),
    "weights": dict(class_weights=np.array([0.2, 1.0, 3.5])),
    "void": dict(ignore_index=VOID),
    "weights and void": dict(class_weights=np.array([0.2, 1.0, 3.5]), ignore_index=VOID),
    "negative ignore_index": dict(ignore_index=-1),
}


@pytest.mark.parametrize("case", CASES)
def test_pixel_softmax_loss_matches_torch_cross_entropy(case):
    rng = np.random.default_rng(0)
    kwargs = CASES[case]
    scores, y = scores_and_labels(rng, void_share=0.3)
    if "ignore_index" not in kwargs:
        y[y == VOID] = 1
    elif kwargs["ignore_index"] == -1:
        y[y == VOID] = -1
    loss, dscores = B.pixel_softmax_loss(scores, y, **kwargs)
    want_loss, want_dscores = R.pixel_softmax_loss(scores, y, **kwargs)
    assert isinstance(loss, float)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    assert dscores.shape == scores.shape
    np.testing.assert_allclose(dscores, want_dscores, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("case", ["plain", "weights and void"])
def test_pixel_softmax_loss_gradient_is_numerically_right(case):
    rng = np.random.default_rng(1)
    kwargs = CASES[case]
    scores, y = scores_and_labels(rng, (2, 3, 3, 2), void_share=0.3 if kwargs else 0.0)
    _, dscores = B.pixel_softmax_loss(scores, y, **kwargs)
    check_gradient(
        lambda scores: B.pixel_softmax_loss(scores, y, **kwargs)[0],
        {"scores": scores},
        {"scores": dscores},
    )


def test_ignored_pixels_count_nowhere():
    rng = np.random.default_rng(2)
    scores, y = scores_and_labels(rng, void_share=0.4)
    weights = np.array([0.5, 2.0, 1.0])
    loss, dscores = B.pixel_softmax_loss(scores, y, weights, ignore_index=VOID)
    void = y == VOID
    assert void.any() and (~void).any()
    np.testing.assert_array_equal(dscores.transpose(0, 2, 3, 1)[void], 0.0)
    # Anything at the ignored pixels: the same loss.
    other = scores.copy()
    other.transpose(0, 2, 3, 1)[void] = rng.normal(scale=10, size=(void.sum(), 3))
    assert B.pixel_softmax_loss(other, y, weights, VOID)[0] == pytest.approx(loss, rel=1e-12)
    # The same as the counted pixels alone, flattened to rows (N H W, C) for core.softmax_loss.
    rows, labels = scores.transpose(0, 2, 3, 1)[~void], y[~void]
    plain, drows = core.softmax_loss(rows, labels)
    assert B.pixel_softmax_loss(scores, y, ignore_index=VOID)[0] == pytest.approx(plain)
    np.testing.assert_allclose(
        B.pixel_softmax_loss(scores, y, ignore_index=VOID)[1].transpose(0, 2, 3, 1)[~void],
        drows,
        rtol=1e-12,
    )


def test_every_pixel_ignored_gives_nan_as_torch_and_no_gradient():
    scores = np.ones((1, 3, 2, 2))
    y = np.full((1, 2, 2), VOID)
    loss, dscores = B.pixel_softmax_loss(scores, y, ignore_index=VOID)
    assert math.isnan(loss) and math.isnan(R.pixel_softmax_loss(scores, y, ignore_index=VOID)[0])
    np.testing.assert_array_equal(dscores, 0.0)


def test_pixel_softmax_loss_is_stable_for_huge_scores():
    rng = np.random.default_rng(3)
    scores, y = scores_and_labels(rng)
    scores *= 1000.0
    loss, dscores = B.pixel_softmax_loss(scores, y)
    assert np.isfinite(loss) and np.isfinite(dscores).all()
    assert loss == pytest.approx(R.pixel_softmax_loss(scores, y)[0], rel=1e-12)


def test_pixel_softmax_loss_refuses_bad_labels():
    scores = np.zeros((1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        B.pixel_softmax_loss(scores, np.full((1, 2, 2), 3))
    with pytest.raises(ValueError, match=r"0\.\.2"):  # 255 is a label unless ignored
        B.pixel_softmax_loss(scores, np.full((1, 2, 2), VOID))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        B.pixel_softmax_loss(scores, np.zeros((1, 2, 3), int))
    with pytest.raises(ValueError, match="class_weights"):
        B.pixel_softmax_loss(scores, np.zeros((1, 2, 2), int), class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="integer"):
        B.pixel_softmax_loss(scores, np.zeros((1, 2, 2)))


# --- nearest and bilinear upsampling -------------------------------------------------------


def test_upsample_nearest_by_hand():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    out, cache = B.upsample_nearest_forward(x, (2, 3))
    np.testing.assert_array_equal(out[0, 0], np.kron(x[0, 0], np.ones((2, 3))))
    dx = B.upsample_nearest_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx, np.full(x.shape, 6.0))  # each pixel fed 2 x 3 outputs


def test_upsample_bilinear_by_hand():
    x = np.array([0.0, 1.0])[None, None, None, :]  # one row: 0, 1
    out, _ = B.upsample_bilinear_forward(x, (1, 2))
    # Output centres at 0.25, 0.75, 1.25, 1.75 in input pixels: -0.25 and 1.25 clamp to
    # the edge pixels, 0.25 and 0.75 interpolate.
    np.testing.assert_allclose(out[0, 0, 0], [0.0, 0.25, 0.75, 1.0], rtol=1e-12)
    out, _ = B.upsample_bilinear_forward(x, (1, 2), align_corners=True)
    np.testing.assert_allclose(out[0, 0, 0], [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-12)


SCALES = [1, 2, 3, (2, 3), 5]


@pytest.mark.parametrize("scale", SCALES)
def test_upsample_nearest_matches_interpolate(scale):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 3, 4, 5))
    out, cache = B.upsample_nearest_forward(x, scale)
    np.testing.assert_array_equal(out, R.upsample_nearest_forward(x, scale))
    dout = rng.normal(size=out.shape)
    dx = B.upsample_nearest_backward(dout, cache)
    np.testing.assert_allclose(dx, R.upsample_nearest_backward(dout, x, scale), rtol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("scale", SCALES)
def test_upsample_bilinear_matches_interpolate(scale, align_corners):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 3, 4, 5))
    out, cache = B.upsample_bilinear_forward(x, scale, align_corners)
    want = R.upsample_bilinear_forward(x, scale, align_corners)
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-14)
    dout = rng.normal(size=out.shape)
    dx = B.upsample_bilinear_backward(dout, cache)
    want_dx = R.upsample_bilinear_backward(dout, x, scale, align_corners)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("align_corners", [False, True])
def test_upsampling_gradients_are_numerically_right(align_corners):
    rng = np.random.default_rng(12)
    x = rng.normal(size=(1, 2, 3, 4))
    out, cache = B.upsample_bilinear_forward(x, (2, 3), align_corners)
    dout = rng.normal(size=out.shape)
    check_gradient(
        lambda x: B.upsample_bilinear_forward(x, (2, 3), align_corners)[0],
        {"x": x},
        {"x": B.upsample_bilinear_backward(dout, cache)},
        dout=dout,
    )
    out, cache = B.upsample_nearest_forward(x, (3, 2))
    dout = rng.normal(size=out.shape)
    check_gradient(
        lambda x: B.upsample_nearest_forward(x, (3, 2))[0],
        {"x": x},
        {"x": B.upsample_nearest_backward(dout, cache)},
        dout=dout,
    )


def test_bilinear_upsampling_keeps_linear_ramps_and_the_mean():
    # Away from the clamped border a linear ramp stays a linear ramp (slope / scale), and
    # with align_corners=False every input pixel spreads total weight s x s (a sum-preserving
    # adjoint), like nearest upsampling.
    ramp = np.arange(6.0)[None, None, None, :] * np.ones((1, 1, 3, 1))
    out, cache = B.upsample_bilinear_forward(ramp, 2)
    np.testing.assert_allclose(np.diff(out[0, 0, 0, 1:-1]), 0.5, rtol=1e-12)
    dx = B.upsample_bilinear_backward(np.ones_like(out), cache)
    np.testing.assert_allclose(dx, 4.0, rtol=1e-12)


# --- max pooling with indices and max unpooling ---------------------------------------------

POOLS = [
    {"pool_height": 2, "pool_width": 2, "stride": 2},
    {"pool_height": 2, "pool_width": 3, "stride": 3},
    {"pool_height": 3, "pool_width": 2, "stride": 3},
]


@pytest.mark.parametrize("pool_param", POOLS)
@pytest.mark.parametrize("size", [(6, 6), (7, 9)])  # (7, 9): windows drop the last rows
def test_max_pool_with_indices_matches_torch(pool_param, size):
    rng = np.random.default_rng(20)
    x = rng.normal(size=(2, 3, *size))
    out, indices = B.max_pool_with_indices(x, pool_param)
    want, want_indices = R.max_pool_with_indices(x, pool_param)
    np.testing.assert_array_equal(out, want)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, want_indices)
    # Each index points at its maximum, inside its own window.
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(2, 3, -1), indices.reshape(2, 3, -1), 2).reshape(out.shape),
        out,
    )


def test_max_pool_indices_by_hand_and_on_ties():
    x = np.array([[1.0, 5.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]])[None, None]
    out, indices = B.max_pool_with_indices(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out[0, 0], [[5.0, 2.0]])
    np.testing.assert_array_equal(indices[0, 0], [[1, 2]])  # a tie: the first in row order
    np.testing.assert_array_equal(
        R.max_pool_with_indices(x, {"pool_height": 2, "pool_width": 2, "stride": 2})[1], indices
    )


@pytest.mark.parametrize("pool_param", POOLS)
@pytest.mark.parametrize("size", [(6, 6), (7, 9)])
def test_max_unpool_matches_torch(pool_param, size):
    rng = np.random.default_rng(21)
    x = rng.normal(size=(2, 3, *size))
    pooled, indices = B.max_pool_with_indices(x, pool_param)
    values = rng.normal(size=pooled.shape)  # a decoder's features, not the maxima
    S, PH, PW = pool_param["stride"], pool_param["pool_height"], pool_param["pool_width"]
    default = ((pooled.shape[2] - 1) * S + PH, (pooled.shape[3] - 1) * S + PW)
    # Without output_size the map is (H' - 1) S + pool size, which loses a pooled map's
    # dropped rows and columns; then the flat indices need output_size to be read right.
    for output_size in (None, size) if default == size else (size,):
        out, cache = B.max_unpool_forward(values, indices, pool_param, output_size)
        want = R.max_unpool_forward(values, indices, pool_param, output_size)
        np.testing.assert_array_equal(out, want)
        dout = rng.normal(size=out.shape)
        dx = B.max_unpool_backward(dout, cache)
        want_dx = R.max_unpool_backward(dout, values, indices, pool_param, output_size)
        np.testing.assert_array_equal(dx, want_dx)
    assert out.shape == (2, 3, *size)


def test_unpooling_the_maxima_keeps_them_in_place_and_is_the_pools_gradient():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(2, 2, 6, 8))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pooled, indices = B.max_pool_with_indices(x, pool_param)
    restored, cache = B.max_unpool_forward(pooled, indices, pool_param)
    is_max = restored != 0
    assert is_max.sum() == pooled.size
    np.testing.assert_array_equal(restored[is_max], x[is_max])
    # Max pooling's backward sends each gradient to its max: that is unpooling of dout.
    dout = rng.normal(size=pooled.shape)
    _, pool_cache = conv_layers.max_pool_forward(x, pool_param)
    np.testing.assert_array_equal(
        B.max_unpool_forward(dout, indices, pool_param)[0],
        conv_layers.max_pool_backward(dout, pool_cache),
    )
    check_gradient(
        lambda x: B.max_unpool_forward(x, indices, pool_param)[0],
        {"x": pooled},
        {"x": B.max_unpool_backward(np.ones_like(restored), cache)},
        dout=np.ones_like(restored),
    )


def test_max_unpool_refuses_bad_indices():
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    x = np.ones((1, 1, 1, 2))
    with pytest.raises(ValueError, match="0..15"):
        B.max_unpool_forward(x, np.array([[[[0, 16]]]]), pool_param, (4, 4))
    with pytest.raises(ValueError, match="repeat"):
        B.max_unpool_forward(x, np.array([[[[3, 3]]]]), pool_param, (4, 4))
    with pytest.raises(ValueError, match="shape"):
        B.max_unpool_forward(x, np.array([[[[3]]]]), pool_param)


# --- transposed convolution ----------------------------------------------------------------


def conv_transpose_loop(x, w, b, stride, pad, output_padding=0):
    """One input pixel at a time: add x[n, c, i, j] * w[c] at (i S, j S), then crop."""
    N, C, H, W = x.shape
    _, F, HH, WW = w.shape
    out_h = (H - 1) * stride - 2 * pad + HH + output_padding
    out_w = (W - 1) * stride - 2 * pad + WW + output_padding
    full = np.zeros(
        (N, F, (H - 1) * stride + HH + output_padding, (W - 1) * stride + WW + output_padding)
    )
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    full[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW] += (
                        x[n, c, i, j] * w[c]
                    )
    return full[:, :, pad : pad + out_h, pad : pad + out_w] + b[None, :, None, None]


def test_conv_transpose_by_hand():
    # One row x = (1, 2), kernel (1, 10): stride 2 places two copies side by side, stride 1
    # overlaps them. A convolution-style (unflipped) "transpose" would give (10, 21, 2).
    x = np.array([1.0, 2.0])[None, None, None, :]
    w = np.array([1.0, 10.0])[None, None, None, :]
    b = np.zeros(1)
    out, _ = B.conv_transpose_forward(x, w, b, {"stride": 2, "pad": 0})
    np.testing.assert_array_equal(out[0, 0, 0], [1.0, 10.0, 2.0, 20.0])
    out, _ = B.conv_transpose_forward(x, w, b, {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out[0, 0, 0], [1.0, 12.0, 20.0])
    # pad crops from both sides, output_padding adds a column on the right.
    out, _ = B.conv_transpose_forward(
        x, w, np.array([0.5]), {"stride": 2, "pad": 0, "output_padding": 1}
    )
    np.testing.assert_array_equal(out[0, 0, 0], [1.5, 10.5, 2.5, 20.5, 0.5])


CONV_CASES = [
    ({"stride": 1, "pad": 0}, (3, 3)),
    ({"stride": 2, "pad": 1}, (4, 4)),
    ({"stride": 2, "pad": 0}, (3, 2)),
    ({"stride": 3, "pad": 1, "output_padding": 2}, (3, 4)),
    ({"stride": 2, "pad": 2, "output_padding": 1}, (5, 3)),
]


@pytest.mark.parametrize("conv_param, kernel", CONV_CASES)
def test_conv_transpose_matches_a_loop_and_torch(conv_param, kernel):
    rng = np.random.default_rng(30)
    x = rng.normal(size=(2, 3, 4, 5))
    w = rng.normal(size=(3, 2, *kernel))  # (C_in, C_out, HH, WW), as torch's weight
    b = rng.normal(size=2)
    out, cache = B.conv_transpose_forward(x, w, b, conv_param)
    want = R.conv_transpose_forward(x, w, b, conv_param)
    S, P, extra = conv_param["stride"], conv_param["pad"], conv_param.get("output_padding", 0)
    assert out.shape == (
        2,
        2,
        3 * S - 2 * P + kernel[0] + extra,
        4 * S - 2 * P + kernel[1] + extra,
    )
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        out, conv_transpose_loop(x, w, b, S, P, extra), rtol=1e-10, atol=1e-12
    )
    dout = rng.normal(size=out.shape)
    grads = B.conv_transpose_backward(dout, cache)
    for name, got, expected in zip(
        ("dx", "dw", "db"), grads, R.conv_transpose_backward(dout, x, w, b, conv_param), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("conv_param, kernel", CONV_CASES[1:4])
def test_conv_transpose_gradients_are_numerically_right(conv_param, kernel):
    rng = np.random.default_rng(31)
    x, w, b = rng.normal(size=(2, 2, 3, 2)), rng.normal(size=(2, 3, *kernel)), rng.normal(size=3)
    out, cache = B.conv_transpose_forward(x, w, b, conv_param)
    dout = rng.normal(size=out.shape)
    dx, dw, db = B.conv_transpose_backward(dout, cache)
    check_gradient(
        lambda x, w, b: B.conv_transpose_forward(x, w, b, conv_param)[0],
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
        dout=dout,
    )


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (3, 0)])
def test_conv_transpose_is_the_adjoint_of_convolution(stride, pad):
    # <conv(y, w), x> = <y, conv_transpose(x, w)>: the same w (F, C, HH, WW) is a conv's
    # (out F, in C) and a transposed conv's (in F, out C) weight.
    rng = np.random.default_rng(32)
    w = rng.normal(size=(3, 2, 3, 3))
    y = rng.normal(size=(2, 2, (4 - 1) * stride - 2 * pad + 3, (5 - 1) * stride - 2 * pad + 3))
    conv_param = {"stride": stride, "pad": pad}
    conv_out, _ = conv_layers.conv_forward_naive(y, w, np.zeros(3), conv_param)
    x = rng.normal(size=conv_out.shape)  # (2, 3, 4, 5)
    up, _ = B.conv_transpose_forward(x, w, np.zeros(2), conv_param)
    assert up.shape == y.shape
    assert np.sum(conv_out * x) == pytest.approx(np.sum(y * up), rel=1e-10)


def test_conv_transpose_refuses_bad_parameters():
    x, w, b = np.ones((1, 2, 3, 3)), np.ones((2, 4, 3, 3)), np.ones(4)
    with pytest.raises(ValueError, match="output_padding"):
        B.conv_transpose_forward(x, w, b, {"stride": 2, "pad": 0, "output_padding": 2})
    with pytest.raises(ValueError, match=r"\(C, F, HH, WW\)"):
        B.conv_transpose_forward(x, np.ones((4, 2, 3, 3)), b, {"stride": 1})
    with pytest.raises(ValueError, match="crops away"):
        B.conv_transpose_forward(np.ones((1, 2, 1, 1)), w, b, {"stride": 1, "pad": 2})


# --- the bilinear kernel ------------------------------------------------------------------


def test_bilinear_kernel_by_hand():
    w = B.bilinear_kernel(2, 4)
    tent = np.array([0.25, 0.75, 0.75, 0.25])
    assert w.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(w[0, 0], np.outer(tent, tent), rtol=1e-12)
    np.testing.assert_array_equal(w[0, 1], 0.0)
    np.testing.assert_array_equal(w[1, 0], 0.0)
    np.testing.assert_allclose(B.bilinear_kernel(1, 5)[0, 0, 2], [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    assert B.bilinear_upsampling_param(2) == (4, {"stride": 2, "pad": 1})
    assert B.bilinear_upsampling_param(3) == (5, {"stride": 3, "pad": 1})


@pytest.mark.parametrize("scale", [2, 3, 4, 5])
def test_bilinear_kernel_upsamples_as_interpolate_inside_the_border(scale):
    # conv_transpose with bilinear_kernel (k = 2s - s % 2, stride s, pad ceil((s - 1) / 2))
    # equals F.interpolate(bilinear, align_corners=False) on every pixel but the outer `pad`
    # rows and columns, where interpolate clamps to the edge and the convolution sees zeros.
    rng = np.random.default_rng(40)
    x = rng.uniform(0.5, 1.5, size=(2, 3, 4, 5))
    k, conv_param = B.bilinear_upsampling_param(scale)
    pad = conv_param["pad"]
    assert pad == math.ceil((scale - 1) / 2) and k == 2 * scale - scale % 2
    out, _ = B.conv_transpose_forward(x, B.bilinear_kernel(3, k), np.zeros(3), conv_param)
    want = R.upsample_bilinear_forward(x, scale)
    assert out.shape == want.shape == (2, 3, 4 * scale, 5 * scale)
    inside = np.zeros(out.shape[2:], dtype=bool)
    inside[pad:-pad, pad:-pad] = True
    np.testing.assert_allclose(out[..., inside], want[..., inside], rtol=1e-12)
    np.testing.assert_allclose(
        out[..., inside], B.upsample_bilinear_forward(x, scale)[0][..., inside], rtol=1e-12
    )
    # On the border the kernel's weights reach outside the image: less than the full sum.
    ones, _ = B.conv_transpose_forward(
        np.ones((1, 1, 4, 5)), B.bilinear_kernel(1, k), np.zeros(1), conv_param
    )
    assert (ones[0, 0][~inside] < 1 - 1e-9).all()
    np.testing.assert_allclose(ones[0, 0][inside], 1.0, rtol=1e-12)


def test_bad_scales_are_refused_clearly():
    x = np.ones((1, 1, 2, 2))
    for scale in (0, 1.5, (2, 0), (1, 2, 3), True):
        with pytest.raises(ValueError, match="scale"):
            B.upsample_nearest_forward(x, scale)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        B.upsample_bilinear_forward(np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match="kernel_size"):
        B.bilinear_kernel(2, 0)
