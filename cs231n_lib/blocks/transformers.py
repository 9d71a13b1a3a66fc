"""Transformer models built from the attention blocks, for 09_transformers and later:

- VisionTransformer: patch embedding, positional encoding, encoder layers, the average
  of the tokens (or a class token), a linear head (classifies images (N, C, H, W)).
- CaptioningTransformer: image features projected to memory tokens (one per feature
  vector), a decoder of masked self-attention and cross-attention over word embeddings,
  greedy sampling.

Both are plain nn.Modules, created on the CPU; move them with `.to(config.device())`.
Their layers are the package's unless a notebook passes its own classes (`encoder_layer=`,
`patch_embedding=`, `decoder_layer=`), called with the package classes' arguments: so
09's transformer notebook runs these models on a student's layers while the grader
withholds the package's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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
    """A ViT: patches -> tokens + positions -> encoder -> mean of the tokens -> head.

    The positions are PositionalEncoding's fixed sinusoids over the row-major patch index.
    pool="mean" averages the tokens; pool="cls" prepends a learned class token (position 0)
    and classifies from its output, as the original ViT does.
    After a forward, layers[i].self_attn.last_attention holds layer i's attention weights
    (N, num_heads, tokens, tokens), for attention maps on the image.
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
        pool: str = "mean",
        encoder_layer: Callable[..., nn.Module] | None = None,
        patch_embedding: Callable[..., nn.Module] | None = None,
    ):
        super().__init__()
        if pool not in ("mean", "cls"):
            raise ValueError(f'pool must be "mean" or "cls", got {pool!r}')
        encoder_layer = encoder_layer or TransformerEncoderLayer
        patch_embedding = patch_embedding or PatchEmbedding
        self.pool = pool
        self.patch_embed = patch_embedding(img_size, patch_size, in_channels, embed_dim)
        num_tokens = (img_size // patch_size) ** 2 + (pool == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if pool == "cls" else None
        self.positional_encoding = PositionalEncoding(embed_dim, dropout, max_len=num_tokens)
        self.layers = nn.ModuleList(
            encoder_layer(embed_dim, num_heads, dim_feedforward, dropout) for _ in range(num_layers)
        )
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> class scores (N, num_classes)."""
        tokens = self.patch_embed(x)  # (N, num_patches, E)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = self.positional_encoding(tokens)
        for layer in self.layers:
            tokens = layer(tokens)
        pooled = tokens[:, 0] if self.cls_token is not None else tokens.mean(dim=1)  # (N, E)
        return self.head(pooled)


class CaptioningTransformer(nn.Module):
    """A transformer decoder that captions images from their feature vectors.

    Features (N, input_dim) are projected to ONE memory token (N, 1, W); features (N, M,
    input_dim), e.g. the cells of a convolutional feature map, to M memory tokens (N, M, W)
    that get sinusoidal positions (cross-attention alone would not know which cell is
    where). Every word attends to the memory by cross-attention; the words are embedded
    (W = wordvec_dim), given positions, and pass num_layers decoder layers with a causal
    mask, so word t sees words 0..t only; `output` maps each position to scores over the
    vocabulary.
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
        max_memory: int = 64,
        decoder_layer: Callable[..., nn.Module] | None = None,
    ):
        super().__init__()
        decoder_layer = decoder_layer or TransformerDecoderLayer
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
        self.memory_positions = PositionalEncoding(wordvec_dim, 0.0, max_len=max_memory)
        self.layers = nn.ModuleList(
            decoder_layer(wordvec_dim, num_heads, dim_feedforward or 4 * wordvec_dim, dropout)
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
        """features (N, D) or (N, M, D), captions (N, T) word indices -> scores (N, T, V) of
        the next word."""
        if captions.ndim != 2 or captions.shape[1] > self.max_length:
            raise ValueError(
                f"captions must be (N, T) with T <= max_length={self.max_length}, "
                f"got {tuple(captions.shape)}"
            )
        memory = self.memory(features)
        x = self.positional_encoding(self.embedding(captions))  # (N, T, W)
        mask = causal_mask(captions.shape[1], device=captions.device)
        for layer in self.layers:
            x = layer(x, memory, mask)
        return self.output(x)  # (N, T, V)

    def memory(self, features: torch.Tensor) -> torch.Tensor:
        """features (N, D) -> one memory token (N, 1, W); (N, M, D) -> (N, M, W) with positions."""
        if features.ndim == 2:
            return self.visual_projection(features)[:, None, :]
        if features.ndim != 3:
            raise ValueError(f"features must be (N, D) or (N, M, D), got {tuple(features.shape)}")
        return self.memory_positions(self.visual_projection(features))

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

        Inputs: features (N, D) or (N, M, D), a numpy array or a tensor; max_length words per image
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
