"""Plausible mistakes in 09_transformers (attention.ipynb and transformer.ipynb; see README.md)."""

BUGS = [
    dict(
        name="scores_scaled_by_d",
        notebook="attention.ipynb",
        cell="attention_forward",
        replace=[("/ np.sqrt(d)", "/ d")],
        loses=["test_attention_forward"],
    ),
    dict(
        name="softmax_over_queries",
        notebook="attention.ipynb",
        cell="attention_forward",
        replace=[("axis=-1", "axis=1")],
        loses=["test_attention_forward"],
    ),
    dict(
        name="backward_without_scale",
        notebook="attention.ipynb",
        cell="attention_backward",
        replace=[("dscores = dscores / np.sqrt(q.shape[-1])", "dscores = dscores")],
        loses=["test_attention_backward"],
    ),
    dict(
        name="causal_mask_sees_the_future",
        notebook="attention.ipynb",
        cell="masks",
        replace=[("dtype=bool))", "dtype=bool), k=1)")],
        loses=["test_masks"],
    ),
    dict(
        name="sin_and_cos_swapped",
        notebook="attention.ipynb",
        cell="PositionalEncoding",
        replace=[
            ("pe[0, :, 0::2] = torch.sin(angle)", "pe[0, :, 0::2] = torch.cos(angle)"),
            ("pe[0, :, 1::2] = torch.cos(angle)", "pe[0, :, 1::2] = torch.sin(angle)"),
        ],
        loses=["test_PositionalEncoding"],
    ),
    dict(
        name="mask_after_softmax",
        notebook="attention.ipynb",
        cell="MultiHeadAttention",
        replace=[
            ('scores = scores.masked_fill(attn_mask == 0, float("-inf"))', "pass"),
            (
                "weights = torch.softmax(scores, dim=-1)",
                "weights = torch.softmax(scores, dim=-1)\n"
                "        if attn_mask is not None:\n"
                "            weights = weights.masked_fill(attn_mask == 0, 0.0)",
            ),
        ],
        loses=["test_MultiHeadAttention"],
    ),
    dict(
        name="heads_split_across_the_wrong_axis",
        notebook="attention.ipynb",
        cell="MultiHeadAttention",
        replace=[("H, hd).transpose(1, 2)", "hd, H).permute(0, 3, 1, 2)")],
        loses=["test_MultiHeadAttention"],
    ),
    dict(
        name="residual_added_after_the_norm",
        notebook="transformer.ipynb",
        cell="TransformerEncoderLayer",
        replace=[
            (
                "x = self.norm_self(src + self.dropout_self(attended))",
                "x = src + self.norm_self(self.dropout_self(attended))",
            )
        ],
        loses=["test_TransformerEncoderLayer"],
    ),
    dict(
        name="encoder_ignores_the_mask",
        notebook="transformer.ipynb",
        cell="TransformerEncoderLayer",
        replace=[("self.self_attn(src, src, src, src_mask)", "self.self_attn(src, src, src)")],
        loses=["test_TransformerEncoderLayer"],
    ),
    dict(
        name="decoder_sees_the_future",
        notebook="transformer.ipynb",
        cell="TransformerDecoderLayer",
        replace=[("self.self_attn(tgt, tgt, tgt, tgt_mask)", "self.self_attn(tgt, tgt, tgt)")],
        loses=["test_TransformerDecoderLayer"],
    ),
    dict(
        name="cross_attention_to_the_words",
        notebook="transformer.ipynb",
        cell="TransformerDecoderLayer",
        replace=[("self.cross_attn(x, memory, memory)", "self.cross_attn(x, x, x)")],
        loses=["test_TransformerDecoderLayer"],
    ),
    dict(
        name="patches_flattened_channel_first",
        notebook="transformer.ipynb",
        cell="PatchEmbedding",
        replace=[("patches.permute(0, 2, 4, 3, 5, 1)", "patches.permute(0, 2, 4, 1, 3, 5)")],
        loses=["test_PatchEmbedding"],
    ),
    dict(
        name="patches_in_column_major_order",
        notebook="transformer.ipynb",
        cell="PatchEmbedding",
        replace=[("patches.permute(0, 2, 4, 3, 5, 1)", "patches.permute(0, 4, 2, 3, 5, 1)")],
        loses=["test_PatchEmbedding"],
    ),
]
