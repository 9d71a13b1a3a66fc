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
# The course's transformer layers (blocks.attention), as named in their state_dicts.
_WB = ("weight", "bias")
ENCODER_PARAMS = (
    *(f"self_attn.{name}" for name in MHA_PARAMS),
    *(f"ffn.{layer}.{p}" for layer in ("linear1", "linear2") for p in _WB),
    *(f"{norm}.{p}" for norm in ("norm_self", "norm_ffn") for p in _WB),
)
DECODER_PARAMS = (
    *(f"{attn}.{name}" for attn in ("self_attn", "cross_attn") for name in MHA_PARAMS),
    *(f"ffn.{layer}.{p}" for layer in ("linear1", "linear2") for p in _WB),
    *(f"{norm}.{p}" for norm in ("norm_self", "norm_cross", "norm_ffn") for p in _WB),
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


def _load_attention(mha: nn.MultiheadAttention, weights: Mapping[str, torch.Tensor]) -> None:
    """Copy the course's MultiHeadAttention weights (MHA_PARAMS names) into `mha`."""
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.cat([weights[f"{n}.weight"] for n in ("query", "key", "value")], dim=0)
        )
        mha.in_proj_bias.copy_(
            torch.cat([weights[f"{n}.bias"] for n in ("query", "key", "value")], dim=0)
        )
        mha.out_proj.weight.copy_(weights["proj.weight"])
        mha.out_proj.bias.copy_(weights["proj.bias"])


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
    _load_attention(mha, weights)
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


def _layer_weights(params: Mapping[str, Array], names, io: Converter) -> dict[str, torch.Tensor]:
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; expected the state_dict names {names}")
    return {name: io.tensor(params[name]) for name in names}


def _sub(weights: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}


def _load_linear_norm(layer: nn.Module, weights: Mapping[str, torch.Tensor], names) -> None:
    """Copy ffn.linear1/2 and the norms, given as (torch attribute, course prefix) pairs."""
    with torch.no_grad():
        for torch_name, course_name in names:
            module = getattr(layer, torch_name)
            module.weight.copy_(weights[f"{course_name}.weight"])
            module.bias.copy_(weights[f"{course_name}.bias"])


def _torch_mask(mask, io: Converter, shape) -> torch.Tensor | None:
    if mask is None:
        return None
    keep = _bool_mask(io.tensor(mask))
    if tuple(keep.shape) != tuple(shape):
        raise ValueError(f"the mask must be {tuple(shape)}, got shape {tuple(keep.shape)}")
    return ~keep  # NOTE: torch's boolean masks mean True = masked out, the course's keep


def transformer_encoder_layer(
    params: Mapping[str, Array], src: Array, num_heads: int, src_mask: Array | None = None
) -> Array:
    """The course's TransformerEncoderLayer (eval mode) computed by torch's own
    nn.TransformerEncoderLayer (post-norm, GELU, layer-norm eps 1e-5).

    Inputs: params by the course block's state_dict names (ENCODER_PARAMS); src (N, S, E);
    src_mask None or (S, S), True / 1 = keep. Returns out (N, S, E).
    The mapping: self_attn as in multi_head_attention; ffn.linear1/2 -> linear1/2;
    norm_self -> norm1; norm_ffn -> norm2.
    """
    io = Converter([src, src_mask, *params.values()])
    src = io.tensor(src)
    require_shape("src", src, 3)
    weights = _layer_weights(params, ENCODER_PARAMS, io)
    E = src.shape[2]
    dim_feedforward = weights["ffn.linear1.weight"].shape[0]
    layer = nn.TransformerEncoderLayer(
        E,
        num_heads,
        dim_feedforward,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=False,
        device=src.device,
        dtype=src.dtype,
    )
    _load_attention(layer.self_attn, _sub(weights, "self_attn."))
    _load_linear_norm(
        layer,
        weights,
        [
            ("linear1", "ffn.linear1"),
            ("linear2", "ffn.linear2"),
            ("norm1", "norm_self"),
            ("norm2", "norm_ffn"),
        ],
    )
    layer.eval()
    with torch.no_grad():
        out = layer(src, src_mask=_torch_mask(src_mask, io, (src.shape[1], src.shape[1])))
    return io.result(out)


def transformer_decoder_layer(
    params: Mapping[str, Array],
    tgt: Array,
    memory: Array,
    num_heads: int,
    tgt_mask: Array | None = None,
) -> Array:
    """The course's TransformerDecoderLayer (eval mode) computed by torch's own
    nn.TransformerDecoderLayer (post-norm, GELU, layer-norm eps 1e-5).

    Inputs: params by the course block's state_dict names (DECODER_PARAMS); tgt (N, T, E);
    memory (N, M, E); tgt_mask None or (T, T), True / 1 = keep. Returns out (N, T, E).
    The mapping: self_attn -> self_attn, cross_attn -> multihead_attn; ffn.linear1/2 ->
    linear1/2; norm_self, norm_cross, norm_ffn -> norm1, norm2, norm3.
    """
    io = Converter([tgt, memory, tgt_mask, *params.values()])
    tgt, memory = io.tensor(tgt), io.tensor(memory)
    require_shape("tgt", tgt, 3)
    require_shape("memory", memory, 3)
    weights = _layer_weights(params, DECODER_PARAMS, io)
    E = tgt.shape[2]
    dim_feedforward = weights["ffn.linear1.weight"].shape[0]
    layer = nn.TransformerDecoderLayer(
        E,
        num_heads,
        dim_feedforward,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=False,
        device=tgt.device,
        dtype=tgt.dtype,
    )
    _load_attention(layer.self_attn, _sub(weights, "self_attn."))
    _load_attention(layer.multihead_attn, _sub(weights, "cross_attn."))
    _load_linear_norm(
        layer,
        weights,
        [
            ("linear1", "ffn.linear1"),
            ("linear2", "ffn.linear2"),
            ("norm1", "norm_self"),
            ("norm2", "norm_cross"),
            ("norm3", "norm_ffn"),
        ],
    )
    layer.eval()
    with torch.no_grad():
        out = layer(tgt, memory, tgt_mask=_torch_mask(tgt_mask, io, (tgt.shape[1],) * 2))
    return io.result(out)


def patch_embedding(weight: Array, bias: Array, x: Array, patch_size: int) -> Array:
    """The course's PatchEmbedding through F.unfold: tokens (N, num_patches, E).

    Inputs: weight (E, P * P * C) and bias (E,) of its `proj` (nn.Linear convention); images
    x (N, C, H, W) with H and W multiples of P = patch_size.
    F.unfold gives each patch channel-major, (C, P, P), in row-major patch order; the
    columns are reordered to the course's channel-last (P, P, C) before the projection.
    """
    io = Converter([weight, bias, x])
    weight, bias, x = io.tensor(weight), io.tensor(bias), io.tensor(x)
    require_shape("x", x, 4)
    N, C = x.shape[:2]
    P = patch_size
    if x.shape[2] % P or x.shape[3] % P:
        raise ValueError(f"patch_size={P} must divide the image size {tuple(x.shape[2:])}")
    columns = F.unfold(x, kernel_size=P, stride=P)  # (N, C * P * P, L), channel-major
    L = columns.shape[2]
    patches = columns.reshape(N, C, P * P, L).permute(0, 3, 2, 1).reshape(N, L, P * P * C)
    return io.result(patches @ weight.T + bias)
