"""Tests of cs231n_lib.layers.dropout: mask statistics, scaling, modes, seeds, gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers.dropout import dropout_backward, dropout_forward


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.9])
def test_dropout_keeps_a_fraction_p_scaled_by_one_over_p(rng, p):
    x = rng.uniform(1.0, 2.0, size=(400, 500))  # no zeros, so zeros in out are dropped units
    out, cache = dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
    kept = out != 0
    assert abs(kept.mean() - p) < 0.005, (kept.mean(), p)
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-12)
    _, mask = cache
    assert set(np.unique(mask)) == {0.0, 1.0 / p}


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_dropout_preserves_the_expected_activation(rng, p):
    x = rng.normal(2.0, 1.0, size=(200_000,))
    out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 1})
    assert abs(out.mean() - x.mean()) < 0.02, (out.mean(), x.mean())


def test_dropout_statistics_agree_with_torch(rng):
    # torch's p is the DROP probability; with keep probability 0.6 both keep ~60 %, scaled.
    x = np.ones((300, 300))
    ours, _ = dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 3})
    torch.manual_seed(0)
    theirs = F.dropout(torch.tensor(x), p=0.4, training=True).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.6}
    assert abs((ours != 0).mean() - (theirs != 0).mean()) < 0.01


def test_dropout_test_mode_is_identity(rng):
    x = rng.normal(size=(5, 4, 3))
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    dout = rng.normal(size=x.shape)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_dropout_with_p_one_keeps_everything(rng):
    x = rng.normal(size=(10, 10))
    out, _ = dropout_forward(x, {"p": 1.0, "mode": "train"})
    np.testing.assert_array_equal(out, x)


def test_dropout_seed_makes_the_mask_reproducible(rng):
    x = rng.normal(size=(20, 30))
    a, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    b, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    c, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 8})
    d, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    e, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(d, e)


def test_dropout_backward_uses_the_forward_mask(rng):
    x, dout = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    param = {"p": 0.4, "mode": "train", "seed": 5}
    out, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    check_gradient(lambda x: dropout_forward(x, param)[0], {"x": x}, {"x": dx}, dout=dout, tol=1e-8)


@pytest.mark.parametrize(
    "param, match",
    [({"p": 0.0, "mode": "train"}, "p"), ({"p": 1.5, "mode": "train"}, "p"),
     ({"p": True, "mode": "train"}, "p"), ({"p": 0.5}, "mode"),
     ({"p": 0.5, "mode": "eval"}, "mode")],
)  # fmt: skip
def test_dropout_rejects_bad_params(param, match):
    with pytest.raises(ValueError, match=match):
        dropout_forward(np.ones((2, 2)), param)
