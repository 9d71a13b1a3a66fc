"""Tests of cs231n_lib.blocks.attention and blocks.transformers: MultiHeadAttention against
torch's nn.MultiheadAttention (via the oracle), the positional encoding and the patch
embedding against closed forms and loops, the layers against direct computations, the
symmetries of attention, and small models that must train."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib import reference as ref
from cs231n_lib.blocks import attention as blk
from cs231n_lib.blocks.transformers import CaptioningTransformer, VisionTransformer

N, S, T, E, H = 2, 4, 5, 8, 2


@pytest.fixture(autouse=True)
def cpu_and_quiet(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only cost time on a shared machine
    yield
    torch.set_num_threads(threads)


def _mha(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return blk.MultiHeadAttention(E, H, dropout).double().eval()


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, L, E, generator=g, dtype=torch.float64) for L in (S, T, T))


# --- MultiHeadAttention --------------------------------------------------------------------


def test_modules_are_created_in_the_course_order():
    torch.manual_seed(0)
    mha = blk.MultiHeadAttention(E, H)
    assert [name for name, _ in mha.named_children()] == [
        "key",
        "query",
        "value",
        "proj",
        "attn_drop",
    ]
    torch.manual_seed(0)
    first = nn.Linear(E, E)  # the same draws as the block's first layer, `key`
    torch.testing.assert_close(mha.key.weight, first.weight)
    assert mha.attn_drop.p == 0.1


@pytest.mark.parametrize("masked", [False, True])
def test_matches_nn_multihead_attention_with_mapped_weights(masked):
    mha = _mha()
    query, key, value = _inputs()
    attn_mask = torch.tril(torch.ones(S, T, dtype=torch.bool)) if masked else None
    out = mha(query, key, value, attn_mask)
    want, weights = ref.multi_head_attention(mha.state_dict(), query, key, value, H, attn_mask)
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-12)
    assert mha.last_attention.shape == (N, H, S, T)
    torch.testing.assert_close(mha.last_attention, weights, rtol=1e-10, atol=1e-12)


def test_heads_are_consecutive_blocks_scaled_by_sqrt_of_the_head_size():
    mha = _mha(seed=2)
    query, key, value = _inputs(seed=3)
    out = mha(query, key, value)
    q, k, v = mha.query(query), mha.key(key), mha.value(value)
    size = E // H
    heads = []
    for h in range(H):
        block = slice(h * size, (h + 1) * size)
        scores = q[..., block] @ k[..., block].transpose(1, 2) / math.sqrt(size)
        heads.append(torch.softmax(scores, dim=-1) @ v[..., block])
    torch.testing.assert_close(out, mha.proj(torch.cat(heads, dim=-1)), rtol=1e-10, atol=1e-12)


def test_a_zero_mask_entry_masks_and_a_fully_masked_query_outputs_the_bias():
    mha = _mha(seed=4)
    query, key, value = _inputs(seed=5)
    attn_mask = torch.ones(S, T, dtype=torch.int64)
    attn_mask[0] = 0  # query 0 sees nothing
    attn_mask[1, 3:] = 0
    out = mha(query, key, value, attn_mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 0], mha.proj.bias.expand(N, E))
    weights = mha.last_attention
    assert (weights[:, :, 1, 3:] == 0).all() and (weights[:, :, 0] == 0).all()
    torch.testing.assert_close(
        weights[:, :, 1:].sum(-1), torch.ones(N, H, S - 1, dtype=torch.float64)
    )
    # Padding masks (N, 1, T) broadcast over the queries and the heads.
    pad = torch.tensor([[True] * 2 + [False] * 3, [True] * 5])[:, None]
    mha(query, key, value, pad)
    assert (mha.last_attention[0, :, :, 2:] == 0).all()


def test_dropout_acts_on_the_attention_weights():
    torch.manual_seed(6)
    mha = blk.MultiHeadAttention(E, H, dropout=1.0).double().train()
    query, key, value = _inputs(seed=7)
    # Every weight dropped: the heads output 0 and the block its proj bias.
    torch.testing.assert_close(mha(query, key, value), mha.proj.bias.expand(N, S, E))
    mha.eval()
    assert not torch.allclose(mha(query, key, value), mha.proj.bias.expand(N, S, E))


def test_self_attention_is_permutation_equivariant_until_positions_are_added():
    mha = _mha(seed=8)
    x, _, _ = _inputs(seed=9)
    perm = torch.tensor([2, 0, 3, 1])
    out = mha(x, x, x)
    torch.testing.assert_close(mha(x[:, perm], x[:, perm], x[:, perm]), out[:, perm])
    torch.manual_seed(8)
    layer = blk.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0).double().eval()
    torch.testing.assert_close(layer(x[:, perm]), layer(x)[:, perm])
    pe = blk.PositionalEncoding(E, dropout=0.0).double()
    with_positions = layer(pe(x))
    assert not torch.allclose(layer(pe(x[:, perm])), with_positions[:, perm], atol=1e-3)


def test_a_causal_mask_blocks_the_future():
    mha = _mha(seed=10)
    x = torch.randn(N, S, E, dtype=torch.float64, requires_grad=True)
    mask = blk.causal_mask(S)
    np.testing.assert_array_equal(mask.numpy(), np.tril(np.ones((S, S), dtype=bool)))
    out = mha(x, x, x, mask)
    (grad,) = torch.autograd.grad(out[:, 1].sum(), x)
    assert (grad[:, 2:] == 0).all(), "position 1 depends on positions after it"
    assert (grad[:, :2] != 0).any()


# --- positional encoding and patches -------------------------------------------------------


def test_positional_encoding_is_the_closed_form_with_sin_on_even_columns():
    pe = blk.PositionalEncoding(6, dropout=0.0, max_len=10)
    assert pe.pe.shape == (1, 10, 6) and "pe" in dict(pe.named_buffers())
    want = np.zeros((10, 6))
    for pos in range(10):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            want[pos, 2 * i], want[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    np.testing.assert_allclose(pe.pe[0].numpy(), want, rtol=1e-6, atol=1e-7)
    assert pe.pe[0, 0, 0] == 0.0 and pe.pe[0, 0, 1] == 1.0  # sin(0), cos(0): not swapped
    x = torch.randn(3, 4, 6)
    torch.testing.assert_close(pe(x), x + pe.pe[:, :4])
    with pytest.raises(ValueError, match="S <= max_len=10"):
        pe(torch.zeros(1, 11, 6))
    with pytest.raises(ValueError, match="even"):
        blk.PositionalEncoding(5)


def test_patch_embedding_takes_row_major_patches_flattened_channel_last():
    torch.manual_seed(11)
    embed = blk.PatchEmbedding(img_size=6, patch_size=3, in_channels=2, embed_dim=5).double()
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    out = embed(x)
    assert out.shape == (2, 4, 5) and embed.num_patches == 4
    for n in range(2):
        index = 0
        for row in range(2):  # top to bottom
            for col in range(2):  # left to right
                patch = x[n, :, 3 * row : 3 * row + 3, 3 * col : 3 * col + 3]  # (C, P, P)
                flat = patch.permute(1, 2, 0).reshape(-1)  # (P, P, C) order
                torch.testing.assert_close(out[n, index], embed.proj(flat))
                index += 1
    with pytest.raises(ValueError, match="must divide"):
        blk.PatchEmbedding(img_size=7, patch_size=3)
    with pytest.raises(ValueError, match=r"expected images \(N, 2, 6, 6\)"):
        embed(torch.zeros(1, 3, 6, 6, dtype=torch.float64))


# --- transformer layers --------------------------------------------------------------------


def _ln(x, norm):
    return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)


def _ffn(x, ffn):
    return ffn.linear2(F.gelu(ffn.linear1(x)))


def test_encoder_layer_adds_the_residual_before_each_layer_norm():
    torch.manual_seed(12)
    layer = blk.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0).double().eval()
    with torch.no_grad():  # norms that are not the identity, so a misplaced one shows
        for norm in (layer.norm_self, layer.norm_ffn):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    x, _, _ = _inputs(seed=13)
    mask = blk.causal_mask(S)
    y = _ln(x + layer.self_attn(x, x, x, mask), layer.norm_self)
    want = _ln(y + _ffn(y, layer.ffn), layer.norm_ffn)
    torch.testing.assert_close(layer(x, mask), want, rtol=1e-10, atol=1e-12)


def test_decoder_layer_is_masked_self_attention_cross_attention_and_mlp():
    torch.manual_seed(14)
    layer = blk.TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0).double().eval()
    tgt, memory, _ = _inputs(seed=15)
    mask = blk.causal_mask(S)
    y = _ln(tgt + layer.self_attn(tgt, tgt, tgt, mask), layer.norm_self)
    y = _ln(y + layer.cross_attn(y, memory, memory), layer.norm_cross)
    want = _ln(y + _ffn(y, layer.ffn), layer.norm_ffn)
    torch.testing.assert_close(layer(tgt, memory, mask), want, rtol=1e-10, atol=1e-12)
    tgt2 = tgt.clone()
    tgt2[:, 2:] += 1.0
    torch.testing.assert_close(layer(tgt2, memory, mask)[:, :2], layer(tgt, memory, mask)[:, :2])


# --- models --------------------------------------------------------------------------------


def test_vision_transformer_shapes_and_a_tiny_overfit():
    torch.manual_seed(16)
    model = VisionTransformer(
        img_size=8,
        patch_size=4,
        in_channels=1,
        embed_dim=16,
        num_layers=2,
        num_heads=2,
        dim_feedforward=32,
        num_classes=3,
        dropout=0.0,
    )
    X, y = torch.randn(12, 1, 8, 8), torch.arange(12) % 3
    assert model(X).shape == (12, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 and (model(X).argmax(1) == y).all()
    attention = model.layers[0].self_attn.last_attention
    assert attention.shape == (12, 2, 4, 4)


def test_captioning_transformer_learns_captions_and_samples_them_in_08s_format():
    word_to_idx = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>", "a", "b", "c"])}
    torch.manual_seed(17)
    model = CaptioningTransformer(
        word_to_idx,
        input_dim=4,
        wordvec_dim=16,
        num_heads=2,
        num_layers=1,
        max_length=8,
        dropout=0.0,
    )
    features = torch.eye(4)[:3]
    captions = torch.tensor(
        [[1, 3, 4, 2, 0, 0], [1, 5, 5, 5, 4, 2], [1, 4, 2, 0, 0, 0]], dtype=torch.int64
    )
    assert model(features, captions).shape == (3, 6, 6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        optimizer.zero_grad()
        loss = model.loss(features, captions)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    sampled = model.sample(features.numpy(), max_length=7)
    assert sampled.shape == (3, 7) and sampled.dtype == np.int64 and model.training
    want = np.zeros((3, 7), dtype=np.int64)  # no <START>; <END> kept; <NULL> after it
    want[0, :3], want[1, :5], want[2, :2] = [3, 4, 2], [5, 5, 5, 4, 2], [4, 2]
    np.testing.assert_array_equal(sampled, want)


def test_vision_transformer_class_token_and_layers_given_by_a_notebook():
    made = []

    class Layer(blk.TransformerEncoderLayer):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(args)

    torch.manual_seed(18)
    model = VisionTransformer(
        img_size=8,
        patch_size=4,
        in_channels=1,
        embed_dim=16,
        num_layers=2,
        num_heads=2,
        dim_feedforward=32,
        num_classes=3,
        dropout=0.0,
        pool="cls",
        encoder_layer=Layer,
    )
    assert made == [(16, 2, 32, 0.0)] * 2
    X = torch.randn(5, 1, 8, 8)
    assert model(X).shape == (5, 3)
    assert model.layers[0].self_attn.last_attention.shape == (5, 2, 5, 5)  # cls + 4 patches
    # the class token's output, not the mean of the tokens, reaches the head
    last = {}
    model.layers[-1].register_forward_hook(lambda m, i, out: last.update(out=out))
    model.eval()
    with torch.no_grad():
        scores = model(X)
        torch.testing.assert_close(scores, model.head(last["out"][:, 0]))
        assert not torch.allclose(scores, model.head(last["out"].mean(dim=1)))
    with pytest.raises(ValueError, match="pool"):
        VisionTransformer(img_size=8, patch_size=4, pool="max")


def test_captioning_transformer_reads_a_grid_of_memory_tokens_with_positions():
    word_to_idx = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>", "a", "b"])}
    torch.manual_seed(19)
    model = CaptioningTransformer(
        word_to_idx,
        input_dim=3,
        wordvec_dim=8,
        num_heads=2,
        num_layers=1,
        max_length=6,
        dropout=0.0,
    ).eval()
    grid = torch.randn(2, 4, 3)
    captions = torch.tensor([[1, 3, 4], [1, 4, 3]])
    assert model(grid, captions).shape == (2, 3, 5)
    assert model.layers[0].cross_attn.last_attention.shape == (2, 2, 3, 4)
    # positions make the memory's order matter (cross-attention alone would not see it)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()  # weights large enough that attention is far from uniform
    swapped = grid[:, [1, 0, 2, 3]]
    assert not torch.allclose(model(grid, captions), model(swapped, captions), atol=1e-3)
    model.memory_positions = nn.Identity()
    torch.testing.assert_close(model(grid, captions), model(swapped, captions))
    assert model.sample(grid.numpy(), max_length=4).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\(N, D\) or \(N, M, D\)"):
        model(torch.randn(2, 1, 4, 3), captions)
