"""cs231n_lib.layers.masked_conv against the torch oracle of cs231n_lib.reference.masked_conv
(F.conv2d with masked weights, its mask built from raster indices), numerical gradients, and
the property the layer exists for: a causal receptive field in raster order, checked by
torch autograd through the oracle and by the numpy backward pass, for one layer and for a
stack (A, then B, B)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import masked_conv as M
from cs231n_lib.reference import masked_conv as R


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


def test_masks_by_hand():
    a = M.pixelcnn_mask(3, "A", 1, 1)[0, 0]
    b = M.pixelcnn_mask(3, "B", 1, 1)[0, 0]
    np.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(M.pixelcnn_mask(1, "A", 1, 1), [[[[0.0]]]])
    np.testing.assert_array_equal(M.pixelcnn_mask(1, "B", 1, 1), [[[[1.0]]]])


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7, (3, 5), (5, 1)])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_mask_matches_the_raster_order_oracle(kernel_size, mask_type):
    mask = M.pixelcnn_mask(kernel_size, mask_type, in_channels=2, out_channels=3)
    want = R.pixelcnn_mask(kernel_size, mask_type, 2, 3)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    assert mask.shape == (3, 2, kh, kw), mask.shape
    np.testing.assert_array_equal(mask, want)
    mask[0, 0, 0, 0] = 7.0  # a copy, not a read-only broadcast view
    assert mask[1, 1, 0, 0] != 7.0


# (N, C, H, W), (F, HH, WW), conv_param (None: stride 1, same padding), mask type
CASES = [
    ((2, 3, 5, 6), (4, 3, 3), None, "A"),
    ((1, 2, 6, 5), (3, 5, 5), None, "B"),
    ((2, 1, 7, 7), (2, 3, 5), {"stride": 1, "pad": 1}, "A"),
    ((1, 2, 7, 9), (3, 3, 3), {"stride": 2, "pad": 1}, "B"),
]


def _inputs(case, seed=0):
    x_shape, (num_filters, kh, kw), conv_param, mask_type = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((num_filters, x_shape[1], kh, kw))
    b = rng.standard_normal(num_filters)
    mask = M.pixelcnn_mask((kh, kw), mask_type, x_shape[1], num_filters)
    return x, w, b, mask, conv_param


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_forward_and_backward_match_torch(case):
    x, w, b, mask, conv_param = _inputs(case)
    out, cache = M.masked_conv_forward(x, w, b, mask, conv_param)
    want = R.masked_conv_forward(x, w, b, mask, conv_param)
    assert out.shape == want.shape, f"{out.shape} vs {want.shape}"
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    got = M.masked_conv_backward(dout, cache)
    wanted = R.masked_conv_backward(dout, x, w, b, mask, conv_param)
    for name, g, t in zip(("dx", "dw", "db"), got, wanted, strict=True):
        assert g.shape == t.shape, f"{name}: {g.shape} vs {t.shape}"
        np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-10, err_msg=name)


def test_same_padding_by_default_and_a_shared_spatial_mask_broadcasts():
    x, w, b, mask, _ = _inputs(CASES[1])
    out, _ = M.masked_conv_forward(x, w, b, mask)
    assert out.shape == (1, 3, 6, 5)  # H' = H, W' = W
    shared, _ = M.masked_conv_forward(x, w, b, mask[0, 0])  # (HH, WW) for every pair
    np.testing.assert_array_equal(shared, out)


def test_masked_weights_change_nothing_and_get_no_gradient():
    x, w, b, mask, conv_param = _inputs(CASES[0])
    out, cache = M.masked_conv_forward(x, w, b, mask, conv_param)
    w_other = np.where(mask == 0, 100.0, w)  # change only what the mask hides
    np.testing.assert_allclose(M.masked_conv_forward(x, w_other, b, mask)[0], out, atol=1e-10)
    _, dw, _ = M.masked_conv_backward(np.ones_like(out), cache)
    assert np.all(dw[mask == 0] == 0), "dw must be 0 at masked positions"
    assert np.all(dw[mask == 1] != 0), "dw vanished at visible positions"


@pytest.mark.parametrize("case", CASES[:3], ids=range(3))
def test_gradients_match_numerical_ones(case):
    x, w, b, mask, conv_param = _inputs(case, seed=3)
    out, cache = M.masked_conv_forward(x, w, b, mask, conv_param)
    dout = np.random.default_rng(4).standard_normal(out.shape)
    dx, dw, db = M.masked_conv_backward(dout, cache)

    def f(x, w, b):
        return M.masked_conv_forward(x, w, b, mask, conv_param)[0]

    check_gradient(f, {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dout=dout)


# --- causality ------------------------------------------------------------------------------

H, W = 5, 6  # raster index of (r, c) is r * W + c


def _allowed(mask_type: str) -> np.ndarray:
    """allowed[i, j]: may output pixel i depend on input pixel j? j < i (A), j <= i (B)."""
    i, j = np.indices((H * W, H * W))
    return j < i if mask_type == "A" else j <= i


def _layer_masks(types, channels=(1, 4, 4, 2), kernel=3):
    return [M.pixelcnn_mask(kernel, t, channels[k], channels[k + 1]) for k, t in enumerate(types)]


def _weights(types, channels=(1, 4, 4, 2), kernel=3, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.standard_normal((channels[k + 1], channels[k], kernel, kernel)),
            rng.standard_normal(channels[k + 1]),
        )
        for k in range(len(types))
    ]


def _torch_dependence(types) -> np.ndarray:
    """dep[i, j] = |d sum_f out[f, i] / d x[:, j]| summed over channels, by autograd through
    the oracle (tanh between layers, as a network would have)."""
    masks, weights = _layer_masks(types), _weights(types)
    x = torch.randn(1, 1, H, W, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)

    def net(x):
        for k, ((w, b), mask) in enumerate(zip(weights, masks, strict=True)):
            x = R.masked_conv_forward(
                x, torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(mask)
            )
            x = torch.tanh(x) if k < len(types) - 1 else x
        return x

    jacobian = torch.autograd.functional.jacobian(lambda x: net(x).sum(dim=1).flatten(), x)
    return jacobian.abs().reshape(H * W, -1, H * W).sum(dim=1).numpy()


def _numpy_dependence(types) -> np.ndarray:
    """The same dependence from the numpy backward pass: one one-hot dout per output pixel."""
    masks, weights = _layer_masks(types), _weights(types)
    x = np.random.default_rng(0).standard_normal((1, 1, H, W))
    caches, out = [], x
    for k, ((w, b), mask) in enumerate(zip(weights, masks, strict=True)):
        out, cache = M.masked_conv_forward(out, w, b, mask)
        caches.append(cache)
        if k < len(types) - 1:
            out = np.tanh(out)
            caches.append(out)
    dep = np.zeros((H * W, H * W))
    for i in range(H * W):
        dout = np.zeros_like(out)
        dout[0, :, i // W, i % W] = 1.0
        for cache in reversed(caches):
            if isinstance(cache, np.ndarray):  # the tanh output
                dout = dout * (1 - cache**2)
            else:
                dout = M.masked_conv_backward(dout, cache)[0]
        dep[i] = np.abs(dout).sum(axis=(0, 1)).ravel()
    return dep


@pytest.mark.parametrize("types", [("A",), ("B",), ("A", "B", "B")], ids="-".join)
@pytest.mark.parametrize("dependence", [_torch_dependence, _numpy_dependence])
def test_the_receptive_field_is_causal_in_raster_order(types, dependence):
    dep = dependence(types)
    allowed = _allowed(types[0])
    leaks = np.argwhere((dep > 1e-12) & ~allowed)
    assert leaks.size == 0, (
        f"output pixel i depends on input pixel j >= i (A) / j > i (B) for (i, j) in "
        f"{leaks[:5].tolist()}: mask {types[0]} lets the future in"
    )
    # not vacuous: the pixel just before i (A) or i itself (B) is seen when in the field
    i = 2 * W + 3  # row 2, column 3
    assert dep[i, i - 1] > 0, "output i does not see its left neighbour"
    assert (dep[i, i] > 0) == (types[0] == "B"), "the centre is seen under B only"
    if len(types) > 1:  # a stack grows the field: two rows up is seen after three layers
        assert dep[i, i - 2 * W] > 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="odd"):
        M.pixelcnn_mask(4, "A", 1, 1)
    with pytest.raises(ValueError, match="mask_type"):
        M.pixelcnn_mask(3, "C", 1, 1)
    with pytest.raises(ValueError, match="in_channels"):
        M.pixelcnn_mask(3, "A", 0, 1)
    x, w, b, mask, _ = _inputs(CASES[0])
    with pytest.raises(ValueError, match="does not broadcast"):
        M.masked_conv_forward(x, w, b, mask[:, :2])
    with pytest.raises(ValueError, match="odd"):
        M.masked_conv_forward(x, np.zeros((4, 3, 2, 2)), b, np.ones((2, 2)))
    with pytest.raises(ValueError, match="square kernel"):
        M.masked_conv_forward(x, np.zeros((4, 3, 3, 5)), b, np.ones((3, 5)))
