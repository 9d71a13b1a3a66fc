"""Tests of cs231n_lib.reference.attention: the torch oracles against attention written here
from its equations (numpy and a per-head torch loop), numerical gradients of the oracles'
forwards, and their numpy-in numpy-out / tensors-in tensors-out behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.reference.attention import MHA_PARAMS

N, S, T, D, DV, E, H = 2, 3, 4, 6, 5, 8, 2


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(23)


def _softmax_attention(q, k, v, keep):
    """Attention from the equation, one (sequence, query) at a time."""
    out = np.zeros((q.shape[0], q.shape[1], v.shape[2]))
    for n in range(q.shape[0]):
        for s in range(q.shape[1]):
            kept = keep[n, s]
            if not kept.any():
                continue  # no key to attend to: output 0
            scores = k[n, kept] @ q[n, s] / math.sqrt(q.shape[2])
            weights = np.exp(scores - scores.max())
            out[n, s] = (weights / weights.sum()) @ v[n, kept]
    return out


def test_attention_forward_is_the_equation_and_keeps_true_entries(rng):
    q, k, v = rng.normal(size=(N, S, D)), rng.normal(size=(N, T, D)), rng.normal(size=(N, T, DV))
    keep = rng.random((N, S, T)) < 0.5
    keep[0, 1] = False  # a fully masked row
    keep[1, 2] = True
    out = ref.attention_forward(q, k, v, keep)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, _softmax_attention(q, k, v, keep), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(out[0, 1], 0.0)
    everything = np.ones((N, S, T), dtype=bool)
    np.testing.assert_allclose(
        ref.attention_forward(q, k, v), _softmax_attention(q, k, v, everything), rtol=1e-12
    )
    # A 0/1 mask of shape (S, T) means the same as the bool one, for every sequence.
    causal = np.tril(np.ones((S, T), dtype=np.int64))
    np.testing.assert_allclose(
        ref.attention_forward(q, k, v, causal),
        _softmax_attention(q, k, v, np.broadcast_to(causal.astype(bool), (N, S, T))),
        rtol=1e-12,
    )


def test_attention_backward_is_the_gradient_of_the_forward(rng):
    q, k, v = rng.normal(size=(N, S, D)), rng.normal(size=(N, T, D)), rng.normal(size=(N, T, DV))
    keep = rng.random((N, S, T)) < 0.6
    keep[1, 0] = False
    dout = rng.normal(size=(N, S, DV))
    dq, dk, dv = ref.attention_backward(dout, q, k, v, keep)
    assert np.all(np.isfinite(dq)) and np.all(dq[1, 0] == 0.0)
    check_gradient(
        lambda q, k, v: ref.attention_forward(q, k, v, keep),
        {"q": q, "k": k, "v": v},
        {"q": dq, "k": dk, "v": dv},
        dout=dout,
    )


def test_additive_attention_is_the_equation_and_its_gradient(rng):
    query, keys, values = (
        rng.normal(size=(N, 3)),
        rng.normal(size=(N, T, 4)),
        rng.normal(size=(N, T, DV)),
    )
    Wa, Ua, va = rng.normal(size=(3, 5)), rng.normal(size=(4, 5)), rng.normal(size=5)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    context = ref.additive_attention_forward(query, keys, values, Wa, Ua, va, mask)
    for n in range(N):
        scores = np.array([va @ np.tanh(query[n] @ Wa + keys[n, t] @ Ua) for t in range(T)])
        weights = np.where(mask[n] == 1, np.exp(scores), 0.0)
        np.testing.assert_allclose(context[n], weights / weights.sum() @ values[n], rtol=1e-12)
    inputs = {"query": query, "keys": keys, "values": values, "Wa": Wa, "Ua": Ua, "va": va}
    dcontext = rng.normal(size=context.shape)
    grads = ref.additive_attention_backward(dcontext, *inputs.values(), mask=mask)
    check_gradient(
        lambda **a: ref.additive_attention_forward(**a, mask=mask),
        inputs,
        dict(zip(inputs, grads, strict=True)),
        dout=dcontext,
    )


def _mha_params(rng):
    return {
        name: rng.normal(size=(E, E) if name.endswith("weight") else E) / math.sqrt(E)
        for name in MHA_PARAMS
    }


def _mha_by_heads(params, query, key, value, keep):
    """Multi-head attention from the equations: head h on features h*E/H ... (h+1)*E/H - 1."""

    def linear(x, name):
        return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]

    q, k, v = linear(query, "query"), linear(key, "key"), linear(value, "value")
    size = E // H
    heads = [
        _softmax_attention(
            q[..., h * size : (h + 1) * size],
            k[..., h * size : (h + 1) * size],
            v[..., h * size : (h + 1) * size],
            keep,
        )
        for h in range(H)
    ]
    return linear(np.concatenate(heads, axis=-1), "proj")


def test_multi_head_attention_through_nn_multihead_attention_is_the_equation(rng):
    params = _mha_params(rng)
    query, key, value = (rng.normal(size=(N, L, E)) for L in (S, T, T))
    attn_mask = np.tril(np.ones((S, T), dtype=bool))  # True = keep, the course's meaning
    out, weights = ref.multi_head_attention(params, query, key, value, H, attn_mask)
    want = _mha_by_heads(params, query, key, value, np.broadcast_to(attn_mask, (N, S, T)))
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    assert weights.shape == (N, H, S, T)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    assert np.all(weights[..., ~attn_mask] == 0.0), "the mask was not inverted for torch"
    out_all, _ = ref.multi_head_attention(params, query, key, value, H)
    want_all = _mha_by_heads(params, query, key, value, np.ones((N, S, T), dtype=bool))
    np.testing.assert_allclose(out_all, want_all, rtol=1e-10, atol=1e-12)


def test_tensors_stay_tensors_and_params_are_checked(rng):
    params = {n: torch.as_tensor(p) for n, p in _mha_params(rng).items()}
    x = torch.as_tensor(rng.normal(size=(N, S, E)))
    out, weights = ref.multi_head_attention(params, x, x, x, H)
    assert isinstance(out, torch.Tensor) and isinstance(weights, torch.Tensor)
    q = torch.as_tensor(rng.normal(size=(N, S, D)))
    assert isinstance(ref.attention_forward(q, q, q), torch.Tensor)
    with pytest.raises(ValueError, match="params lacks"):
        ref.multi_head_attention({}, x, x, x, H)
    with pytest.raises(ValueError, match="must divide"):
        ref.multi_head_attention(params, x, x, x, 3)
    with pytest.raises(ValueError, match=r"attn_mask must be \(S, T\)"):
        ref.multi_head_attention(params, x, x, x, H, torch.ones(S, S + 1, dtype=torch.bool))


# --- transformer layers and patch embedding -------------------------------------------


def _layer_inputs(rng, layer_cls, *args):
    torch.manual_seed(5)
    layer = layer_cls(*args).double().eval()
    return layer, {k: v.detach().numpy() for k, v in layer.state_dict().items()}


def test_transformer_encoder_layer_matches_the_course_block(rng):
    from cs231n_lib.blocks.attention import TransformerEncoderLayer, causal_mask

    layer, params = _layer_inputs(rng, TransformerEncoderLayer, E, H, 12, 0.0)
    src = rng.normal(size=(N, T, E))
    mask = causal_mask(T).numpy()
    for m in (None, mask):
        expected = layer(torch.from_numpy(src), None if m is None else torch.from_numpy(m))
        got = ref.transformer_encoder_layer(params, src, H, src_mask=m)
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, expected.detach().numpy(), atol=1e-10)
    # the mask matters: with it the first position sees only itself
    assert not np.allclose(
        ref.transformer_encoder_layer(params, src, H, mask),
        ref.transformer_encoder_layer(params, src, H),
    )
    with pytest.raises(ValueError, match="lacks"):
        ref.transformer_encoder_layer({}, src, H)


def test_transformer_decoder_layer_matches_the_course_block(rng):
    from cs231n_lib.blocks.attention import TransformerDecoderLayer, causal_mask

    layer, params = _layer_inputs(rng, TransformerDecoderLayer, E, H, 12, 0.0)
    tgt, memory = rng.normal(size=(N, T, E)), rng.normal(size=(N, S, E))
    mask = causal_mask(T)
    expected = layer(torch.from_numpy(tgt), torch.from_numpy(memory), mask).detach().numpy()
    got = ref.transformer_decoder_layer(params, tgt, memory, H, tgt_mask=mask.numpy())
    np.testing.assert_allclose(got, expected, atol=1e-10)
    # tensors in, tensors out
    out = ref.transformer_decoder_layer(
        {k: torch.from_numpy(v) for k, v in params.items()},
        torch.from_numpy(tgt),
        torch.from_numpy(memory),
        H,
        tgt_mask=mask,
    )
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-10)


def test_patch_embedding_matches_a_loop_over_patches(rng):
    P, C, size, emb = 2, 3, 6, 5
    weight, bias = rng.normal(size=(emb, P * P * C)), rng.normal(size=emb)
    x = rng.normal(size=(N, C, size, size))
    got = ref.patch_embedding(weight, bias, x, P)
    rows = size // P
    expected = np.zeros((N, rows * rows, emb))
    for n in range(N):
        for r in range(rows):
            for c in range(rows):
                patch = x[n, :, r * P : (r + 1) * P, c * P : (c + 1) * P]  # (C, P, P)
                expected[n, r * rows + c] = weight @ patch.transpose(1, 2, 0).ravel() + bias
    np.testing.assert_allclose(got, expected, atol=1e-10)
    with pytest.raises(ValueError, match="divide"):
        ref.patch_embedding(weight, bias, x[:, :, :5, :5], P)
