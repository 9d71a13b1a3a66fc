"""Attention in torch: the ground truth for the numpy attention layers and the blocks of 09.

- attention_forward(q, k, v, mask=None) -> out: torch's
  F.scaled_dot_product_attention; attention_backward(dout, q, k, v, mask=None) ->
  (dq, dk, dv) by autograd.
- additive_attention_forward(query, keys, values, Wa, Ua, va, mask=None) -> context,
  from its equation; additive_attention_backward(dcontext, ...) -> six gradients.
- multi_head_attention(params, query, key, value, num_heads, attn_mask=None) ->
  (out, weights): torch's own nn.MultiheadAttention, loaded with the weights of the
  course's MultiHeadAttention.

Masks follow the course (True / 1 = keep, False / 0 = masked out), as in the numpy layers;
a query with every key masked gets weights 0 and output 0 (the numpy layer's convention),
except in multi_head_attention, which returns what nn.MultiheadAttention returns: NaN.
numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.reference._tensors import Array, Converter, numpy_io, require_shape, vjp

# The course's MultiHeadAttention, as named in its state_dict, in torch's nn.Linear
# convention: y = x W^T + b with W (E_out, E_in).
MHA_PARAMS = tuple(
    f"{layer}.{p}" for layer in ("key", "query", "value", "proj") for p in ("weight", "bias")
)


def _bool_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return None
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask must be (S, T) or (N, S, T), got shape {tuple(mask.shape)}")
    return mask if mask.dtype == torch.bool else mask != 0


def _attention(q, k, v, mask=None):
    for name, x in (("q", q), ("k", k), ("v", v)):
        require_shape(name, x, 3)
    keep = _bool_mask(mask)
    if keep is None:
        return F.scaled_dot_product_attention(q, k, v)
    keep = torch.broadcast_to(keep, (q.shape[0], q.shape[1], k.shape[1]))
    # NOTE: torch versions differ on fully masked rows (NaN or 0); such rows here attend
    # to every key and are then set to 0, so the result and its gradient never depend on it.
    any_kept = keep.any(dim=-1, keepdim=True)  # (N, S, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep | ~any_kept)
    return torch.where(any_kept, out, torch.zeros_like(out))


@numpy_io
def attention_forward(q: Array, k: Array, v: Array, mask: Array | None = None) -> Array:
    """softmax(q k^T / sqrt(d)) v by F.scaled_dot_product_attention: out (N, S, dv).

    q (N, S, d), k (N, T, d), v (N, T, dv); mask (S, T) or (N, S, T) (or broadcastable),
    True / 1 = keep, passed to torch as a boolean attn_mask (torch's meaning is the same).
    """
    return _attention(q, k, v, mask)


def attention_backward(dout: Array, q: Array, k: Array, v: Array, mask: Array | None = None):
    """(dq, dk, dv) of attention_forward for the upstream gradient dout (N, S, dv)."""
    return vjp(_attention, (q, k, v), dout, mask=mask)


def _additive(query, keys, values, Wa, Ua, va, mask=None):
    require_shape("query", query, 2)
    require_shape("keys", keys, 3)
    scores = torch.tanh((query @ Wa)[:, None, :] + keys @ Ua) @ va  # (N, T)
    if mask is not None:
        if tuple(mask.shape) != tuple(scores.shape):
            raise ValueError(f"mask must be (N, T), got shape {tuple(mask.shape)}")
        scores = scores.masked_fill(mask == 0, -math.inf)
    weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # fully masked: 0, not NaN
    return torch.einsum("nt,ntd->nd", weights, values)


@numpy_io
def additive_attention_forward(
    query: Array,
    keys: Array,
    values: Array,
    Wa: Array,
    Ua: Array,
    va: Array,
    mask: Array | None = None,
) -> Array:
    """Context (N, dv) = softmax_t(va . tanh(query Wa + keys_t Ua)) values.

    query (N, Dq), keys (N, T, Dk), values (N, T, dv), Wa (Dq, A), Ua (Dk, A), va (A,),
    mask None or (N, T) with 0 / False = padding.
    """
    return _additive(query, keys, values, Wa, Ua, va, mask)


def additive_attention_backward(
    dcontext: Array,
    query: Array,
    keys: Array,
    values: Array,
    Wa: Array,
    Ua: Array,
    va: Array,
    mask: Array | None = None,
):
    """(dquery, dkeys, dvalues, dWa, dUa, dva) of additive attention for dcontext (N, dv)."""
    return vjp(_additive, (query, keys, values, Wa, Ua, va), dcontext, mask=mask)


def multi_head_attention(
    params: Mapping[str, Array],
    query: Array,
    key: Array,
    value: Array,
    num_heads: int,
    attn_mask: Array | None = None,
):
    """The course's MultiHeadAttention (eval mode) computed by torch's nn.MultiheadAttention.

    Inputs:
    - params: the course block's weights by their state_dict names (MHA_PARAMS):
      "query.weight" (E, E), "query.bias" (E,), the same for "key", "value" and "proj",
      in nn.Linear's convention y = x W^T + b; numpy arrays or tensors
      (`module.state_dict()` works).
    - query (N, S, E), key (N, T, E), value (N, T, E); num_heads divides E.
    - attn_mask: None or (S, T), True / 1 = keep (the course's meaning).
    Returns (out (N, S, E), weights (N, num_heads, S, T)), the weights before dropout.

    The mapping onto nn.MultiheadAttention(E, num_heads, batch_first=True):
    in_proj_weight = cat(Wq, Wk, Wv) stacked along the rows (the output features),
    in_proj_bias = cat(bq, bk, bv), out_proj = proj. Each head is a block of E / num_heads
    consecutive features of the projections, in both.
    NOTE: nn.MultiheadAttention's boolean attn_mask means True = NOT allowed, the opposite
    of the course's, so the mask is inverted here; a query with every key masked gets NaN.
    """
    missing = [name for name in MHA_PARAMS if name not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; expected the names {MHA_PARAMS}")
    io = Converter([query, key, value, attn_mask, *(params[name] for name in MHA_PARAMS)])
    query, key, value = (io.tensor(x) for x in (query, key, value))
    for name, x in (("query", query), ("key", key), ("value", value)):
        require_shape(name, x, 3)
    weights = {name: io.tensor(params[name]) for name in MHA_PARAMS}
    embed_dim = query.shape[2]
    if num_heads < 1 or embed_dim % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the embedding size E={embed_dim}")
    mha = nn.MultiheadAttention(
        embed_dim, num_heads, batch_first=True, device=query.device, dtype=query.dtype
    )
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.cat([weights[f"{n}.weight"] for n in ("query", "key", "value")], dim=0)
        )
        mha.in_proj_bias.copy_(
            torch.cat([weights[f"{n}.bias"] for n in ("query", "key", "value")], dim=0)
        )
        mha.out_proj.weight.copy_(weights["proj.weight"])
        mha.out_proj.bias.copy_(weights["proj.bias"])
    mha.eval()
    torch_mask = None
    if attn_mask is not None:
        torch_mask = ~_bool_mask(io.tensor(attn_mask))  # NOTE: torch's True = masked out
        if tuple(torch_mask.shape) != (query.shape[1], key.shape[1]):
            raise ValueError(
                f"attn_mask must be (S, T) = {(query.shape[1], key.shape[1])}, "
                f"got shape {tuple(torch_mask.shape)}"
            )
    out, attention = mha(
        query, key, value, attn_mask=torch_mask, need_weights=True, average_attn_weights=False
    )
    return io.result((out, attention))
