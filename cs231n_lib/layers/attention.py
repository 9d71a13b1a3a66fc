"""Attention in numpy: scaled dot-product attention, its masks, and additive attention.

Shapes use one alphabet: N sequences in a minibatch, S queries, T keys (and values),
d features of a query or key, dv features of a value, A hidden units of additive attention.

- Scaled dot-product attention (Vaswani et al., 2017):
  out = softmax(q k^T / sqrt(d)) v, the softmax over the T keys of each query, with
  q (N, S, d), k (N, T, d), v (N, T, dv) and out (N, S, dv).
- Additive attention (Bahdanau et al., 2015), one query per sequence (a decoder state):
  e_t = va . tanh(query Wa + keys_t Ua), weights = softmax_t(e), context = sum_t weights_t
  values_t, with query (N, Dq), keys (N, T, Dk), values (N, T, dv), Wa (Dq, A), Ua (Dk, A),
  va (A,).

Masks are boolean (or 0/1) arrays where True / 1 KEEPS a key for a query and False / 0
masks it out: a masked score is set to -inf before the softmax, so its weight is exactly 0.
NOTE: torch's nn.MultiheadAttention reads a boolean mask the other way round (True =
masked); F.scaled_dot_product_attention reads it as here (True = keep).

A query whose keys are ALL masked (a fully masked row) has no key to attend to; here its
weights are all 0, so its output is 0 and no gradient flows through it (rather than the
NaN of a softmax over -inf only). torch's scaled_dot_product_attention does the same.

The forwards return (out, cache) and the backwards take (dout, cache), as every numpy
layer; the cache is an AttentionCache, whose `weights` field holds the attention weights
for plotting. 09_transformers has the student write these.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class AttentionCache(NamedTuple):
    """What an attention forward hands its backward; `weights` are for attention maps."""

    inputs: tuple  # the forward's arrays, in its argument order
    weights: np.ndarray  # (N, S, T) for dot-product attention, (N, T) for additive
    extra: tuple = ()  # intermediate values of the forward


def causal_mask(S: int) -> np.ndarray:
    """(S, S) bool, True on and below the diagonal: query i sees keys 0..i, never the future."""
    if isinstance(S, bool) or not isinstance(S, int | np.integer) or S < 1:
        raise ValueError(f"S must be a positive integer, got {S!r}")
    return np.tril(np.ones((S, S), dtype=bool))


def padding_mask(lengths, T: int) -> np.ndarray:
    """(N, 1, T) bool: True for the first lengths[n] keys of sequence n, False for padding.

    The singleton axis stands for the queries: the mask broadcasts against scores
    (N, S, T), so every query of sequence n sees the same real keys. mask[:, 0] is the
    (N, T) key-padding form; combine with a causal mask by `causal_mask(T) & mask`
    (shape (N, T, T)).
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-d integer array (N,), got {lengths!r}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, T={T}], got {lengths.min()}..{lengths.max()}")
    return (np.arange(T) < lengths[:, None])[:, None, :]  # (N, 1, T)


def _keep(mask, shape: tuple[int, int, int]) -> np.ndarray | None:
    """`mask` as bool broadcast to `shape` (N, S, T), or None; ValueError if it cannot be."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ and not (
        np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()
    ):
        raise ValueError(f"a mask must be bool or 0/1, got dtype {mask.dtype}")
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask must be (S, T) or (N, S, T), got shape {mask.shape}")
    try:
        return np.broadcast_to(mask.astype(bool), shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the scores (N, S, T) = {shape}"
        ) from None


def masked_softmax(scores: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Softmax over the last axis, with entries where keep is False set to -inf first.

    A row with no kept entry gets weights 0 (see the module's docstring), never NaN.
    """
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # fully masked rows: max is -inf
    exp = np.exp(scores - row_max)  # exp(-inf) = 0 for the masked entries
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)


def _check_qkv(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
    ok = q.ndim == k.ndim == v.ndim == 3
    if ok:
        ok = q.shape[0] == k.shape[0] == v.shape[0] and q.shape[2] == k.shape[2]
        ok = ok and k.shape[1] == v.shape[1] and q.shape[2] > 0
    if not ok:
        raise ValueError(
            f"expected q (N, S, d), k (N, T, d), v (N, T, dv); got q {q.shape}, k {k.shape}, "
            f"v {v.shape}"
        )


def attention_weights(q: np.ndarray, k: np.ndarray, mask=None) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) over the keys: (N, S, T), each row sums to 1 (or is 0).

    Inputs: q (N, S, d), k (N, T, d), mask None, (S, T) or (N, S, T) (or anything that
    broadcasts to (N, S, T), such as padding_mask's (N, 1, T)), True / 1 = keep.
    """
    q, k = np.asarray(q), np.asarray(k)
    _check_qkv(q, k, k)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[2])  # (N, S, T)
    return masked_softmax(scores, _keep(mask, scores.shape))


def attention_forward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None
) -> tuple[np.ndarray, AttentionCache]:
    """Scaled dot-product attention: out = softmax(q k^T / sqrt(d)) v.

    Inputs:
    - q: queries (N, S, d); k: keys (N, T, d); v: values (N, T, dv).
    - mask: None, or bool / 0-1 of shape (S, T) or (N, S, T) (or broadcastable to
      (N, S, T)); False / 0 masks key t out for query s, before the softmax.
    Returns (out, cache): out (N, S, dv); cache.weights the attention weights (N, S, T).
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    _check_qkv(q, k, v)
    weights = attention_weights(q, k, mask)  # (N, S, T)
    out = weights @ v  # (N, S, dv)
    return out, AttentionCache((q, k, v), weights)


def attention_backward(
    dout: np.ndarray, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of attention_forward.

    Inputs: dout (N, S, dv), the upstream gradient; cache from attention_forward.
    Returns (dq, dk, dv) of shapes (N, S, d), (N, T, d), (N, T, dv). Masked entries have
    weight 0, so no gradient reaches their scores.
    """
    (q, k, v), weights = cache.inputs, cache.weights
    dv = weights.transpose(0, 2, 1) @ dout  # (N, T, dv)
    dweights = dout @ v.transpose(0, 2, 1)  # (N, S, T)
    # Softmax backward, row by row: ds = p * (dp - <p, dp>).
    dscores = weights * (dweights - np.sum(weights * dweights, axis=-1, keepdims=True))
    dscores /= np.sqrt(q.shape[2])
    dq = dscores @ k  # (N, S, d)
    dk = dscores.transpose(0, 2, 1) @ q  # (N, T, d)
    return dq, dk, dv


# --- additive (Bahdanau) attention ---------------------------------------------------------


def additive_attention_forward(
    query: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    Wa: np.ndarray,
    Ua: np.ndarray,
    va: np.ndarray,
    mask=None,
) -> tuple[np.ndarray, AttentionCache]:
    """Additive attention of one query per sequence over T keys.

    e_t = va . tanh(query Wa + keys_t Ua); weights = softmax over t; context = weights values.

    Inputs:
    - query: (N, Dq), e.g. a decoder's hidden state; keys: (N, T, Dk), e.g. the encoder's
      states; values: (N, T, dv) (often the keys again).
    - Wa: (Dq, A); Ua: (Dk, A); va: (A,).
    - mask: None or (N, T) bool / 0-1, False / 0 = padding that gets no weight.
    Returns (context, cache): context (N, dv); cache.weights the alignment (N, T).
    """
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    Wa, Ua, va = np.asarray(Wa), np.asarray(Ua), np.asarray(va)
    ok = query.ndim == 2 and keys.ndim == 3 and values.ndim == 3 and va.ndim == 1
    if ok:
        N, T, _ = keys.shape
        ok = query.shape[0] == N and values.shape[:2] == (N, T)
        ok = ok and Wa.shape == (query.shape[1], va.size) and Ua.shape == (keys.shape[2], va.size)
    if not ok:
        raise ValueError(
            f"expected query (N, Dq), keys (N, T, Dk), values (N, T, dv), Wa (Dq, A), "
            f"Ua (Dk, A), va (A,); got query {query.shape}, keys {keys.shape}, values "
            f"{values.shape}, Wa {Wa.shape}, Ua {Ua.shape}, va {va.shape}"
        )
    keep = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (N, T):
            raise ValueError(f"mask must be (N, T) = {(N, T)}, got shape {mask.shape}")
        keep = _keep(mask[:, None, :], (N, 1, T))[:, 0]
    hidden = np.tanh((query @ Wa)[:, None, :] + keys @ Ua)  # (N, T, A)
    weights = masked_softmax(hidden @ va, keep)  # (N, T)
    context = np.einsum("nt,ntd->nd", weights, values)  # (N, dv)
    return context, AttentionCache((query, keys, values, Wa, Ua, va), weights, (hidden,))


def additive_attention_backward(dcontext: np.ndarray, cache: AttentionCache) -> tuple:
    """Backward pass of additive_attention_forward.

    Inputs: dcontext (N, dv); cache from additive_attention_forward.
    Returns (dquery, dkeys, dvalues, dWa, dUa, dva), shaped like the forward's inputs.
    """
    (query, keys, values, Wa, Ua, va), weights, (hidden,) = cache
    dvalues = weights[:, :, None] * dcontext[:, None, :]  # (N, T, dv)
    dweights = np.einsum("ntd,nd->nt", values, dcontext)  # (N, T)
    de = weights * (dweights - np.sum(weights * dweights, axis=1, keepdims=True))  # (N, T)
    dva = np.einsum("nta,nt->a", hidden, de)
    dpre = de[:, :, None] * va * (1 - hidden**2)  # (N, T, A), through tanh
    dUa = np.einsum("ntk,nta->ka", keys, dpre)
    dkeys = dpre @ Ua.T  # (N, T, Dk)
    dquery_pre = dpre.sum(axis=1)  # (N, A): the query term is the same for every t
    dWa = query.T @ dquery_pre
    dquery = dquery_pre @ Wa.T  # (N, Dq)
    return dquery, dkeys, dvalues, dWa, dUa, dva
