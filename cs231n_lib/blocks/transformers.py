"""Transformer models built from the attention blocks, for 09_transformers and later:

- VisionTransformer: patch embedding, positional encoding, encoder layers, the average
  of the tokens, a linear head (classifies images (N, C, H, W)).
- CaptioningTransformer: image features projected to one memory token, a decoder of
  masked self-attention and cross-attention over word embeddings, greedy sampling.

Both are plain nn.Modules, created on the CPU; move them with `.to(config.device())`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.attention import (
    PatchEmbedding,
    PositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
)


class VisionTransformer(nn.Module):
    """A ViT that averages its tokens: patches -> tokens + positions -> encoder -> mean -> head.

    The positions are PositionalEncoding's fixed sinusoids over the row-major patch index.
    After a forward, layers[i].self_attn.last_attention holds layer i's attention weights
    (N, num_heads, num_patches, num_patches), for attention maps on the image.
    """

    def __init__(
        self,
        img_size: int = 32,
        patch_size: int = 8,
        in_channels: int = 3,
        embed_dim: int = 128,
        num_layers: int = 6,
        num_heads: int = 4,
        dim_feedforward: int = 256,
        num_classes: int = 10,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.patch_embed = PatchEmbedding(img_size, patch_size, in_channels, embed_dim)
        self.positional_encoding = PositionalEncoding(
            embed_dim, dropout, max_len=self.patch_embed.num_patches
        )
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(embed_dim, num_heads, dim_feedforward, dropout)
            for _ in range(num_layers)
        )
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> class scores (N, num_classes)."""
        tokens = self.positional_encoding(self.patch_embed(x))  # (N, num_patches, E)
        for layer in self.layers:
            tokens = layer(tokens)
        return self.head(tokens.mean(dim=1))  # average of the tokens: (N, E) -> (N, C)


class CaptioningTransformer(nn.Module):
    """A transformer decoder that captions images from their feature vectors.

    The features (N, input_dim) are projected to ONE memory token (N, 1, W) that every
    word attends to by cross-attention; the words are embedded (W = wordvec_dim), given
    positions, and pass num_layers decoder layers with a causal mask, so word t sees words
    0..t only; `output` maps each position to scores over the vocabulary.
    word_to_idx needs "<NULL>", "<START>" and "<END>". Weights start as N(0, 0.02)
    (biases 0, layer norms 1 and 0), as usual for transformers.
    """

    def __init__(
        self,
        word_to_idx: Mapping[str, int],
        input_dim: int,
        wordvec_dim: int,
        num_heads: int = 4,
        num_layers: int = 2,
        max_length: int = 50,
        dim_feedforward: int | None = None,
        dropout: float = 0.1,
    ):
        super().__init__()
        missing = [w for w in ("<NULL>", "<START>", "<END>") if w not in word_to_idx]
        if missing:
            raise ValueError(f"word_to_idx lacks {missing}")
        vocab_size = len(word_to_idx)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx["<START>"]
        self._end = word_to_idx["<END>"]
        self.max_length = max_length
        self.visual_projection = nn.Linear(input_dim, wordvec_dim)
        self.embedding = nn.Embedding(vocab_size, wordvec_dim, padding_idx=self._null)
        self.positional_encoding = PositionalEncoding(wordvec_dim, dropout, max_len=max_length)
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(
                wordvec_dim, num_heads, dim_feedforward or 4 * wordvec_dim, dropout
            )
            for _ in range(num_layers)
        )
        self.output = nn.Linear(wordvec_dim, vocab_size)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """features (N, D), captions (N, T) word indices -> scores (N, T, V) of the next word."""
        if captions.ndim != 2 or captions.shape[1] > self.max_length:
            raise ValueError(
                f"captions must be (N, T) with T <= max_length={self.max_length}, "
                f"got {tuple(captions.shape)}"
            )
        memory = self.visual_projection(features)[:, None, :]  # (N, 1, W)
        x = self.positional_encoding(self.embedding(captions))  # (N, T, W)
        mask = causal_mask(captions.shape[1], device=captions.device)
        for layer in self.layers:
            x = layer(x, memory, mask)
        return self.output(x)  # (N, T, V)

    def loss(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of predicting captions[:, 1:] from captions[:, :-1].

        captions (N, L) start with <START>; <NULL> targets (padding) are left out of the
        mean. Returns a scalar tensor.
        """
        scores = self(features, captions[:, :-1])  # (N, L - 1, V)
        return F.cross_entropy(
            scores.reshape(-1, scores.shape[-1]),
            captions[:, 1:].reshape(-1),
            ignore_index=self._null,
        )

    @torch.no_grad()
    def sample(self, features, max_length: int = 30) -> np.ndarray:
        """Greedy captions from <START>, in eval mode: the highest-scoring word at each step.

        Inputs: features (N, D), a numpy array or a tensor; max_length words per image
        (at most the model's max_length).
        Returns captions (N, max_length) int64 numpy WITHOUT the leading <START>; a
        caption's first <END> is kept and every position after it is <NULL>, as 08's
        CaptioningRNN.sample.
        """
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        if max_length > self.max_length:
            raise ValueError(f"max_length={max_length} exceeds the model's {self.max_length}")
        device = self.output.weight.device
        features = torch.as_tensor(features, dtype=self.output.weight.dtype, device=device)
        was_training = self.training
        self.eval()
        N = features.shape[0]
        words = torch.full((N, 1), self._start, dtype=torch.int64, device=device)
        done = torch.zeros(N, dtype=torch.bool, device=device)
        for _ in range(max_length):
            word = self(features, words)[:, -1].argmax(dim=1)  # (N,)
            word = word.masked_fill(done, self._null)
            words = torch.cat([words, word[:, None]], dim=1)
            done |= word == self._end
            if done.all():
                break
        self.train(was_training)
        captions = np.full((N, max_length), self._null, dtype=np.int64)
        generated = words[:, 1:].cpu().numpy()
        captions[:, : generated.shape[1]] = generated
        return captions
