"""cs231n_lib.layers.attention against torch oracles, numerical gradients and hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import attention as att

N, S, T, D, DV, A = 2, 3, 5, 4, 6, 7  # S != T: a softmax over the wrong axis cannot fit


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


def _qkv(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    q = scale * rng.standard_normal((N, S, D))
    k = scale * rng.standard_normal((N, T, D))
    v = rng.standard_normal((N, T, DV))
    return q, k, v


def _masks():
    rng = np.random.default_rng(3)
    random = rng.random((N, S, T)) < 0.6
    random[:, :, 0] = True  # no fully masked row here (they have a test of their own)
    return {
        "none": None,
        "(S, T) bool": (rng.random((S, T)) < 0.7) | np.eye(S, T, dtype=bool),
        "(N, S, T) bool": random,
        "(N, S, T) 0/1": random.astype(np.int64),
        "padding (N, 1, T)": att.padding_mask(np.array([2, 5]), T),
    }


MASKS = _masks()


def _assert_close(got, want, name, rtol=1e-10, atol=1e-12):
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("mask_name", MASKS)
def test_forward_and_backward_match_torch(mask_name):
    mask = MASKS[mask_name]
    q, k, v = _qkv()
    out, cache = att.attention_forward(q, k, v, mask)
    _assert_close(out, ref.attention_forward(q, k, v, mask), "out")
    dout = np.random.default_rng(1).standard_normal(out.shape)
    grads = att.attention_backward(dout, cache)
    for name, got, want in zip(
        ("dq", "dk", "dv"), grads, ref.attention_backward(dout, q, k, v, mask), strict=True
    ):
        _assert_close(got, want, name)


@pytest.mark.parametrize("mask_name", ["none", "(N, S, T) bool", "padding (N, 1, T)"])
def test_backward_matches_the_numerical_gradient(mask_name):
    mask = MASKS[mask_name]
    q, k, v = _qkv(seed=4)
    out, cache = att.attention_forward(q, k, v, mask)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    dq, dk, dv = att.attention_backward(dout, cache)
    check_gradient(
        lambda q, k, v: att.attention_forward(q, k, v, mask)[0],
        {"q": q, "k": k, "v": v},
        {"q": dq, "k": dk, "v": dv},
        dout=dout,
    )


def test_scores_are_divided_by_sqrt_d_by_hand():
    # One query, two keys, d = 4: scores q.k / sqrt(4) = (4, 0) / 2 = (2, 0).
    q = np.array([[[2.0, 0.0, 0.0, 0.0]]])
    k = np.array([[[2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]]])
    v = np.array([[[1.0], [0.0]]])
    out, cache = att.attention_forward(q, k, v)
    weight = np.exp(2.0) / (np.exp(2.0) + 1.0)  # scaled by d = 4: e^1 / (e^1 + 1), wrong
    np.testing.assert_allclose(cache.weights, [[[weight, 1 - weight]]], rtol=1e-12)
    np.testing.assert_allclose(out, [[[weight]]], rtol=1e-12)


def test_weights_are_a_softmax_over_the_keys_and_masked_ones_are_zero():
    q, k, v = _qkv(seed=6, scale=2.0)
    mask = MASKS["(N, S, T) bool"]
    _, cache = att.attention_forward(q, k, v, mask)
    w = cache.weights
    assert w.shape == (N, S, T)
    np.testing.assert_allclose(w.sum(axis=2), 1.0, rtol=1e-12)  # each query's row
    assert np.all(w[~mask] == 0.0), "a masked key got weight: was the mask applied first?"
    np.testing.assert_allclose(att.attention_weights(q, k, mask), w)
    # The kept entries are the softmax of the kept scores alone (renormalized).
    n, s = 1, 2
    kept = mask[n, s]
    scores = q[n, s] @ k[n].T / np.sqrt(D)
    want = np.exp(scores[kept]) / np.exp(scores[kept]).sum()
    np.testing.assert_allclose(w[n, s, kept], want, rtol=1e-12)


def test_a_fully_masked_query_gets_zero_output_and_zero_gradient():
    q, k, v = _qkv(seed=7)
    mask = np.ones((N, S, T), dtype=bool)
    mask[1, 0] = False  # query 0 of sequence 1 sees no key
    out, cache = att.attention_forward(q, k, v, mask)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1, 0], 0.0)
    np.testing.assert_array_equal(cache.weights[1, 0], 0.0)
    _assert_close(out, ref.attention_forward(q, k, v, mask), "out")
    dout = np.ones_like(out)
    dq, dk, dv = att.attention_backward(dout, cache)
    np.testing.assert_array_equal(dq[1, 0], 0.0)
    for name, got, want in zip(
        ("dq", "dk", "dv"), (dq, dk, dv), ref.attention_backward(dout, q, k, v, mask), strict=True
    ):
        _assert_close(got, want, name)


def test_causal_mask_blocks_the_future():
    mask = att.causal_mask(4)
    assert mask.dtype == np.bool_ and mask.shape == (4, 4)
    np.testing.assert_array_equal(mask, np.arange(4)[:, None] >= np.arange(4))
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 4, D))
    out, _ = att.attention_forward(x, x, x, mask)
    changed = x.copy()
    changed[:, 2:] = rng.standard_normal((1, 2, D))  # the future of positions 0 and 1
    out2, _ = att.attention_forward(changed, changed, changed, mask)
    np.testing.assert_allclose(out2[:, :2], out[:, :2], rtol=1e-12)
    assert not np.allclose(out2[:, 2:], out[:, 2:])


def test_padding_mask_broadcasts_over_the_queries():
    mask = att.padding_mask(np.array([1, 3, 0]), 4)
    assert mask.shape == (3, 1, 4) and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask[:, 0], [[1, 0, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]])
    combined = att.causal_mask(4) & mask
    assert combined.shape == (3, 4, 4)
    assert combined[1, 0].tolist() == [True, False, False, False]
    assert combined[1, 3].tolist() == [True, True, True, False]
    # Padded keys get no weight, whatever their values.
    q, k, v = _qkv(seed=9)
    pad = att.padding_mask(np.array([2, 4]), T)
    out, _ = att.attention_forward(q, k, v, pad)
    k2, v2 = k.copy(), v.copy()
    k2[0, 2:], v2[0, 2:] = 100.0, -100.0
    np.testing.assert_allclose(att.attention_forward(q, k2, v2, pad)[0], out, rtol=1e-12)


def _additive_inputs(seed=10):
    rng = np.random.default_rng(seed)
    Dq, Dk = 3, 4
    return {
        "query": rng.standard_normal((N, Dq)),
        "keys": rng.standard_normal((N, T, Dk)),
        "values": rng.standard_normal((N, T, DV)),
        "Wa": 0.5 * rng.standard_normal((Dq, A)),
        "Ua": 0.5 * rng.standard_normal((Dk, A)),
        "va": rng.standard_normal(A),
    }


@pytest.mark.parametrize("masked", [False, True])
def test_additive_attention_matches_torch_and_the_numerical_gradient(masked):
    inputs = _additive_inputs()
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool) if masked else None
    context, cache = att.additive_attention_forward(**inputs, mask=mask)
    _assert_close(context, ref.additive_attention_forward(**inputs, mask=mask), "context")
    np.testing.assert_allclose(cache.weights.sum(axis=1), 1.0, rtol=1e-12)
    if masked:
        assert np.all(cache.weights[0, 2:] == 0.0)
    dcontext = np.random.default_rng(11).standard_normal(context.shape)
    grads = att.additive_attention_backward(dcontext, cache)
    want = ref.additive_attention_backward(dcontext, *inputs.values(), mask=mask)
    for name, got, w in zip(inputs, grads, want, strict=True):
        _assert_close(got, w, f"d{name}")
    check_gradient(
        lambda **a: att.additive_attention_forward(**a, mask=mask)[0],
        inputs,
        dict(zip(inputs, grads, strict=True)),
        dout=dcontext,
    )


def test_additive_attention_by_hand():
    # One key-value pair per position; va . tanh(...) = (1, 0): weights e / (e + 1), 1 / (e + 1).
    query = np.zeros((1, 1))
    keys = np.array([[[np.arctanh(0.5)], [0.0]]])
    values = np.array([[[1.0], [0.0]]])
    context, cache = att.additive_attention_forward(
        query, keys, values, np.zeros((1, 1)), np.ones((1, 1)), np.array([2.0])
    )
    weight = np.e / (np.e + 1)
    np.testing.assert_allclose(cache.weights, [[weight, 1 - weight]], rtol=1e-12)
    np.testing.assert_allclose(context, [[weight]], rtol=1e-12)


def test_bad_inputs_are_refused_with_the_shapes():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"expected q \(N, S, d\)"):
        att.attention_forward(q, k[:, :, :3], v)
    with pytest.raises(ValueError, match="does not broadcast"):
        att.attention_forward(q, k, v, np.ones((T, S), dtype=bool))
    with pytest.raises(ValueError, match="bool or 0/1"):
        att.attention_forward(q, k, v, np.full((S, T), 0.5))
    with pytest.raises(ValueError, match="lengths must lie in"):
        att.padding_mask(np.array([6]), T)
    with pytest.raises(ValueError, match="positive integer"):
        att.causal_mask(0)
    inputs = _additive_inputs()
    with pytest.raises(ValueError, match=r"mask must be \(N, T\)"):
        att.additive_attention_forward(**inputs, mask=np.ones((N, 1, T), dtype=bool))
    inputs["Wa"] = inputs["Wa"][:, :2]
    with pytest.raises(ValueError, match="expected query"):
        att.additive_attention_forward(**inputs)
