"""Attention blocks in torch, in the public CS231n conventions (facts, not code), for 09 on.

- MultiHeadAttention(embed_dim, num_heads, dropout=0.1): multi-head scaled dot-product
  attention; forward(query (N, S, E), key (N, T, E), value (N, T, E), attn_mask (S, T))
  -> (N, S, E); a 0 / False entry of attn_mask masks key t out for query s.
- PositionalEncoding(embed_dim, dropout=0.1, max_len=5000): sinusoids added to (N, S, E).
- PatchEmbedding(img_size, patch_size, in_channels=3, embed_dim=128): images (N, C, H, W)
  -> one token per patch (N, num_patches, E).
- FeedForward(input_dim, dim_feedforward, dropout): the per-token MLP of a transformer.
- TransformerEncoderLayer(input_dim, num_heads, dim_feedforward=2048, dropout=0.1) and
  TransformerDecoderLayer(...): self-attention (and cross-attention), MLP, residuals,
  layer norms.

Layer norm placement: POST-norm, x = LayerNorm(x + Dropout(sublayer(x))) after each
sublayer, as in the original transformer (Vaswani et al., 2017) and in the public course's
decoder layer, so the two read side by side. Pre-norm (x + sublayer(LayerNorm(x))) trains
deep stacks more stably; with the 2-6 layers of 09 both train.

Modules are created on the CPU like every nn.Module; move them with
`.to(config.device())`. Dropout is torch's: `dropout` is the probability of DROPPING a
unit (the numpy layers' dropout_param "p" is that of keeping one).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class MultiHeadAttention(nn.Module):
    """Multi-head attention: num_heads scaled dot-product attentions on blocks of features.

    Creates, in this order, `key`, `query`, `value`, `proj` (each nn.Linear(E, E)) and
    `attn_drop` (nn.Dropout(dropout) on the attention weights). Head h uses features
    h * E / num_heads ... (h + 1) * E / num_heads - 1 of the projected query, key and value
    (num_heads consecutive blocks); scores are divided by sqrt(E / num_heads), the size of
    one head. After each forward, `last_attention` holds the weights (N, num_heads, S, T)
    before dropout, detached, for attention maps.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        _positive_int("embed_dim", embed_dim)
        _positive_int("num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide embed_dim={embed_dim}")
        self.key = nn.Linear(embed_dim, embed_dim)
        self.query = nn.Linear(embed_dim, embed_dim)
        self.value = nn.Linear(embed_dim, embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.attn_drop = nn.Dropout(dropout)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.last_attention: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, E) -> (N, num_heads, L, head_dim): head h takes the h-th block of features."""
        N, L, _ = x.shape
        return x.view(N, L, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from every query to the keys.

        Inputs:
        - query: (N, S, E); key, value: (N, T, E).
        - attn_mask: None, (S, T), or (N, S, T) (also (N, 1, T) for padding), bool or
          0/1; 0 / False masks key t out for query s. A query with every key masked gets
          weights 0, so its output is proj's bias.
        Returns (N, S, E).
        """
        if query.ndim != 3 or key.ndim != 3 or value.shape != key.shape:
            raise ValueError(
                f"expected query (N, S, E), key and value (N, T, E); got "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        if query.shape[2] != self.embed_dim or query.shape[0] != key.shape[0]:
            raise ValueError(
                f"query {tuple(query.shape)} and key {tuple(key.shape)} must share N and "
                f"have E = {self.embed_dim}"
            )
        q = self._heads(self.query(query))  # (N, H, S, hd)
        k = self._heads(self.key(key))  # (N, H, T, hd)
        v = self._heads(self.value(value))  # (N, H, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (N, H, S, T)
        keep = self._keep(attn_mask, scores)
        if keep is not None:
            scores = scores.masked_fill(~keep, -math.inf)
        weights = torch.softmax(scores, dim=-1)  # over the T keys
        if keep is not None:
            weights = weights.masked_fill(~keep, 0.0)  # fully masked rows: 0, not NaN
        self.last_attention = weights.detach()
        out = self.attn_drop(weights) @ v  # (N, H, S, hd)
        out = out.transpose(1, 2).reshape(query.shape)  # heads side by side: (N, S, E)
        return self.proj(out)

    @staticmethod
    def _keep(attn_mask, scores: torch.Tensor) -> torch.Tensor | None:
        """attn_mask as bool, shaped to broadcast against scores (N, H, S, T)."""
        if attn_mask is None:
            return None
        keep = torch.as_tensor(attn_mask, device=scores.device)
        keep = keep if keep.dtype == torch.bool else keep != 0
        N, _, S, T = scores.shape
        if keep.ndim == 2:
            keep = keep[None, None]  # the same mask for every sequence and head
        elif keep.ndim == 3:
            keep = keep[:, None]  # the same mask for every head
        if keep.ndim != 4 or keep.shape[-1] != T or keep.shape[-2] not in (1, S):
            raise ValueError(
                f"attn_mask must be (S, T) = {(S, T)} or (N, S, T), got {tuple(attn_mask.shape)}"
            )
        if keep.shape[0] not in (1, N):
            raise ValueError(f"attn_mask {tuple(attn_mask.shape)} is for another N than {N}")
        return keep


def sinusoids(max_len: int, embed_dim: int) -> torch.Tensor:
    """The table (max_len, E) float32: column 2i is sin(pos / 10000^(2i/E)), 2i+1 the cos."""
    _positive_int("max_len", max_len)
    _positive_int("embed_dim", embed_dim)
    if embed_dim % 2:
        raise ValueError(f"embed_dim must be even (sin and cos pairs), got {embed_dim}")
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    exponent = torch.arange(0, embed_dim, 2, dtype=torch.float64) / embed_dim  # 2i / E
    angle = position / 10000.0**exponent  # (max_len, E / 2)
    table = torch.empty(max_len, embed_dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table.float()


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoids of each position to a sequence of vectors, then dropout.

    Buffer `pe` (1, max_len, E): pe[0, pos, j] = sin(pos / 10000^(2i/E)) for an even
    column j = 2i and cos(pos / 10000^(2i/E)) for the odd column j = 2i + 1, so the
    exponents 2i run 0, 0, 2, 2, 4, 4, ...
    """

    def __init__(self, embed_dim: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoids(max_len, embed_dim)[None])  # (1, max_len, E)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, S, E) -> dropout(x + pe[:, :S]), (N, S, E)."""
        _, max_len, embed_dim = self.pe.shape
        if x.ndim != 3 or x.shape[2] != embed_dim or x.shape[1] > max_len:
            raise ValueError(
                f"expected x (N, S, E={embed_dim}) with S <= max_len={max_len}, "
                f"got {tuple(x.shape)}"
            )
        return self.dropout(x + self.pe[:, : x.shape[1]])


class PatchEmbedding(nn.Module):
    """Cuts images into patch_size x patch_size patches and maps each to a token.

    Patches are taken in row-major order (left to right, then top to bottom); each patch is
    flattened channel-last, in (row, column, channel) order, into P * P * C numbers, and
    one nn.Linear `proj` (P * P * C -> E) maps it to its token.
    """

    def __init__(self, img_size: int, patch_size: int, in_channels: int = 3, embed_dim: int = 128):
        super().__init__()
        for name, value in (
            ("img_size", img_size),
            ("patch_size", patch_size),
            ("in_channels", in_channels),
            ("embed_dim", embed_dim),
        ):
            _positive_int(name, value)
        if img_size % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide img_size={img_size}")
        self.img_size, self.patch_size, self.in_channels = img_size, patch_size, in_channels
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Linear(patch_size * patch_size * in_channels, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) with H = W = img_size -> tokens (N, num_patches, E)."""
        C, size, P = self.in_channels, self.img_size, self.patch_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (C, size, size):
            raise ValueError(f"expected images (N, {C}, {size}, {size}), got {tuple(x.shape)}")
        N, rows = x.shape[0], size // P
        patches = x.reshape(N, C, rows, P, rows, P)  # (N, C, row, i, column, j)
        patches = patches.permute(0, 2, 4, 3, 5, 1)  # (N, row, column, i, j, C)
        return self.proj(patches.reshape(N, rows * rows, P * P * C))  # (N, num_patches, E)


class FeedForward(nn.Module):
    """The per-token MLP of a transformer layer: Linear, GELU, Dropout, Linear."""

    def __init__(self, input_dim: int, dim_feedforward: int, dropout: float = 0.1):
        super().__init__()
        self.linear1 = nn.Linear(input_dim, dim_feedforward)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, input_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., input_dim) -> (..., input_dim), each vector on its own."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(nn.Module):
    """Self-attention then an MLP, each with a residual connection and a post-layer norm.

    forward(src): x = norm_self(src + dropout_self(self_attn(src, src, src, src_mask)));
    out = norm_ffn(x + dropout_ffn(ffn(x))). Self-attention is the only place where
    tokens interact; the norms and the MLP act on each token alone.
    """

    def __init__(
        self, input_dim: int, num_heads: int, dim_feedforward: int = 2048, dropout: float = 0.1
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(input_dim, num_heads, dropout)
        self.ffn = FeedForward(input_dim, dim_feedforward, dropout)
        self.norm_self = nn.LayerNorm(input_dim)
        self.norm_ffn = nn.LayerNorm(input_dim)
        self.dropout_self = nn.Dropout(dropout)
        self.dropout_ffn = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (N, S, E), src_mask None or (S, T=S) with 0 = masked -> (N, S, E)."""
        x = self.norm_self(src + self.dropout_self(self.self_attn(src, src, src, src_mask)))
        return self.norm_ffn(x + self.dropout_ffn(self.ffn(x)))


class TransformerDecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to a memory, an MLP; each post-norm residual.

    forward(tgt, memory, tgt_mask):
    x = norm_self(tgt + dropout_self(self_attn(tgt, tgt, tgt, tgt_mask)));
    x = norm_cross(x + dropout_cross(cross_attn(x, memory, memory)));
    out = norm_ffn(x + dropout_ffn(ffn(x))).
    """

    def __init__(
        self, input_dim: int, num_heads: int, dim_feedforward: int = 2048, dropout: float = 0.1
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(input_dim, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(input_dim, num_heads, dropout)
        self.ffn = FeedForward(input_dim, dim_feedforward, dropout)
        self.norm_self = nn.LayerNorm(input_dim)
        self.norm_cross = nn.LayerNorm(input_dim)
        self.norm_ffn = nn.LayerNorm(input_dim)
        self.dropout_self = nn.Dropout(dropout)
        self.dropout_cross = nn.Dropout(dropout)
        self.dropout_ffn = nn.Dropout(dropout)

    def forward(
        self, tgt: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """tgt (N, T, E), memory (N, M, E), tgt_mask None or (T, T) (a causal mask) -> (N, T, E)."""
        x = self.norm_self(tgt + self.dropout_self(self.self_attn(tgt, tgt, tgt, tgt_mask)))
        x = self.norm_cross(x + self.dropout_cross(self.cross_attn(x, memory, memory)))
        return self.norm_ffn(x + self.dropout_ffn(self.ffn(x)))


def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, True on and below the diagonal: position t attends to 0..t only."""
    _positive_int("T", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()
