"""Plausible mistakes in 09_transformers (attention.ipynb entries; see README.md)."""

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
]
