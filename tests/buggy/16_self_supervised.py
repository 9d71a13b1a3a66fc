"""Plausible mistakes in 16_self_supervised (see README.md): four at most per graded
cell, the ones students make most (each breaks its own cell's test and no other).
"""

BUGS = [
    dict(
        # The dot product alone: long projections look similar, and sim leaves [-1, 1].
        name="sim_without_normalization",
        notebook="simclr.ipynb",
        cell="sim",
        replace=[
            (
                "torch.dot(z_i, z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))",
                "torch.dot(z_i, z_j)",
            )
        ],
        loses=["test_sim"],
    ),
    dict(
        name="sim_divided_by_one_norm",
        notebook="simclr.ipynb",
        cell="sim",
        replace=[("(torch.linalg.norm(z_i) * torch.linalg.norm(z_j))", "torch.linalg.norm(z_i)")],
        loses=["test_sim"],
    ),
    dict(
        # Squared norms (z . z) in place of norms.
        name="sim_divided_by_squared_norms",
        notebook="simclr.ipynb",
        cell="sim",
        replace=[
            (
                "(torch.linalg.norm(z_i) * torch.linalg.norm(z_j))",
                "(torch.dot(z_i, z_i) * torch.dot(z_j, z_j))",
            )
        ],
        loses=["test_sim"],
    ),
    dict(
        # The anchor in its own denominator: exp(1 / tau) added to every row's sum.
        name="naive_denominator_includes_k",
        notebook="simclr.ipynb",
        cell="simclr_loss_naive",
        replace=[("            if i != k:\n", "            if True:\n")],
        loses=["test_simclr_loss_naive"],
    ),
    dict(
        name="naive_temperature_applied_twice",
        notebook="simclr.ipynb",
        cell="simclr_loss_naive",
        replace=[("/ tau)", "/ tau / tau)")],
        loses=["test_simclr_loss_naive"],
    ),
    dict(
        # Positives paired (k, k): the similarity of a view with itself, always 1.
        name="naive_positive_is_the_row_itself",
        notebook="simclr.ipynb",
        cell="simclr_loss_naive",
        replace=[("positive = k + N if k < N else k - N", "positive = k")],
        loses=["test_simclr_loss_naive"],
    ),
    dict(
        name="naive_mean_over_n_not_2n",
        notebook="simclr.ipynb",
        cell="simclr_loss_naive",
        replace=[("loss = total_loss / (2 * N)", "loss = total_loss / N")],
        loses=["test_simclr_loss_naive"],
    ),
    dict(
        name="positive_pairs_without_normalization",
        notebook="simclr.ipynb",
        cell="sim_positive_pairs",
        replace=[
            (
                "(left * right).sum(dim=1, keepdim=True)",
                "(out_left * out_right).sum(dim=1, keepdim=True)",
            )
        ],
        loses=["test_sim_positive_pairs"],
    ),
    dict(
        # (N,) instead of the (N, 1) column.
        name="positive_pairs_flat",
        notebook="simclr.ipynb",
        cell="sim_positive_pairs",
        replace=[("(left * right).sum(dim=1, keepdim=True)", "(left * right).sum(dim=1)")],
        loses=["test_sim_positive_pairs"],
    ),
    dict(
        # Each column divided by its norm over the batch, not each row by its own.
        name="positive_pairs_normalized_over_the_batch",
        notebook="simclr.ipynb",
        cell="sim_positive_pairs",
        replace=[("norm(out_left, dim=1, keepdim=True)", "norm(out_left, dim=0, keepdim=True)")],
        loses=["test_sim_positive_pairs"],
    ),
    dict(
        name="sim_matrix_of_unnormalized_rows",
        notebook="simclr.ipynb",
        cell="compute_sim_matrix",
        replace=[("sim_matrix = normalized @ normalized.T", "sim_matrix = out @ out.T")],
        loses=["test_compute_sim_matrix"],
    ),
    dict(
        name="sim_matrix_normalized_columns",
        notebook="simclr.ipynb",
        cell="compute_sim_matrix",
        replace=[
            (
                "torch.linalg.norm(out, dim=1, keepdim=True)",
                "torch.linalg.norm(out, dim=0, keepdim=True)",
            )
        ],
        loses=["test_compute_sim_matrix"],
    ),
    dict(
        name="sim_matrix_by_squared_norms",
        notebook="simclr.ipynb",
        cell="compute_sim_matrix",
        replace=[
            ("torch.linalg.norm(out, dim=1, keepdim=True)", "(out ** 2).sum(dim=1, keepdim=True)")
        ],
        loses=["test_compute_sim_matrix"],
    ),
    dict(
        # Only one side normalized: entry (a, b) = z_a . z_b / ||z_a||.
        name="sim_matrix_normalized_on_one_side",
        notebook="simclr.ipynb",
        cell="compute_sim_matrix",
        replace=[("sim_matrix = normalized @ normalized.T", "sim_matrix = normalized @ out.T")],
        loses=["test_compute_sim_matrix"],
    ),
    dict(
        name="vectorized_denominator_includes_k",
        notebook="simclr.ipynb",
        cell="simclr_loss_vectorized",
        replace=[
            (
                "denom = (exponential * mask).sum(dim=1, keepdim=True)",
                "denom = exponential.sum(dim=1, keepdim=True)",
            )
        ],
        loses=["test_simclr_loss_vectorized"],
    ),
    dict(
        name="vectorized_temperature_applied_twice",
        notebook="simclr.ipynb",
        cell="simclr_loss_vectorized",
        replace=[("/ tau)", "/ tau / tau)")],
        loses=["test_simclr_loss_vectorized"],
    ),
    dict(
        # The diagonal of the similarity matrix as the positives: pairs (k, k).
        name="vectorized_positive_is_the_row_itself",
        notebook="simclr.ipynb",
        cell="simclr_loss_vectorized",
        replace=[
            ("torch.cat([sim_pairs, sim_pairs], dim=0)", "torch.diagonal(sim_matrix)[:, None]")
        ],
        loses=["test_simclr_loss_vectorized"],
    ),
    dict(
        name="vectorized_mean_over_n_not_2n",
        notebook="simclr.ipynb",
        cell="simclr_loss_vectorized",
        replace=[(".sum() / (2 * N)", ".sum() / N")],
        loses=["test_simclr_loss_vectorized"],
    ),
    dict(
        # Dot products of raw features: their lengths leak into the similarity.
        name="clip_similarity_without_normalization",
        notebook="clip.ipynb",
        cell="get_similarity_no_loop",
        replace=[
            ("text_features = text_features / text_features.norm(dim=1, keepdim=True)", "pass"),
            ("image_features = image_features / image_features.norm(dim=1, keepdim=True)", "pass"),
        ],
        loses=["test_get_similarity_no_loop"],
    ),
    dict(
        # (M_image, N_text): images as rows, the transpose of the public course's order.
        name="clip_similarity_transposed",
        notebook="clip.ipynb",
        cell="get_similarity_no_loop",
        replace=[
            ("return text_features @ image_features.T", "return image_features @ text_features.T")
        ],
        loses=["test_get_similarity_no_loop"],
    ),
    dict(
        # Only the image side normalized: the texts' lengths still scale the rows.
        name="clip_similarity_only_images_normalized",
        notebook="clip.ipynb",
        cell="get_similarity_no_loop",
        replace=[
            ("text_features = text_features / text_features.norm(dim=1, keepdim=True)", "pass")
        ],
        loses=["test_get_similarity_no_loop"],
    ),
    dict(
        # Images choosing captions only: the text-to-image half of the loss is missing.
        name="clip_loss_one_direction_only",
        notebook="clip.ipynb",
        cell="clip_loss",
        replace=[("return (loss_images + loss_texts) / 2", "return loss_images")],
        loses=["test_clip_loss"],
    ),
    dict(
        # Logits multiplied by the temperature: a small tau flattens the softmax.
        name="clip_loss_temperature_multiplied",
        notebook="clip.ipynb",
        cell="clip_loss",
        replace=[("@ text_features.T / temperature", "@ text_features.T * temperature")],
        loses=["test_clip_loss"],
    ),
    dict(
        # Every row's right answer taken to be caption 0 instead of its own caption.
        name="clip_loss_labels_not_arange",
        notebook="clip.ipynb",
        cell="clip_loss",
        replace=[
            (
                "labels = torch.arange(len(logits), device=logits.device)",
                "labels = torch.zeros(len(logits), dtype=torch.long, device=logits.device)",
            )
        ],
        loses=["test_clip_loss"],
    ),
    dict(
        # Raw features in the logits: no cosine, the scale of the encoders leaks in.
        name="clip_loss_without_normalization",
        notebook="clip.ipynb",
        cell="clip_loss",
        replace=[
            ("image_features = image_features / image_features.norm(dim=1, keepdim=True)", "pass"),
            ("text_features = text_features / text_features.norm(dim=1, keepdim=True)", "pass"),
        ],
        loses=["test_clip_loss"],
    ),
    dict(
        # The argmax over the images: one label per class instead of one per image.
        name="zero_shot_argmax_over_images",
        notebook="clip.ipynb",
        cell="clip_zero_shot_classifier",
        replace=[("return similarity.argmax(dim=0)", "return similarity.argmax(dim=1)")],
        loses=["test_clip_zero_shot_classifier"],
    ),
    dict(
        # The least similar prompt.
        name="zero_shot_argmin",
        notebook="clip.ipynb",
        cell="clip_zero_shot_classifier",
        replace=[("return similarity.argmax(dim=0)", "return similarity.argmin(dim=0)")],
        loses=["test_clip_zero_shot_classifier"],
    ),
    dict(
        # Raw dot products with the prompts: a long prompt feature wins too often.
        name="zero_shot_dot_products_without_normalization",
        notebook="clip.ipynb",
        cell="clip_zero_shot_classifier",
        replace=[
            (
                "similarity = get_similarity_no_loop(prompt_features, image_features)",
                "similarity = prompt_features @ image_features.T",
            )
        ],
        loses=["test_clip_zero_shot_classifier"],
    ),
    dict(
        # The k least similar images.
        name="top_k_smallest",
        notebook="clip.ipynb",
        cell="retrieve_top_k",
        replace=[
            ("torch.topk(similarity, k, dim=1)", "torch.topk(similarity, k, dim=1, largest=False)")
        ],
        loses=["test_retrieve_top_k"],
    ),
    dict(
        # Top captions per image (columns) instead of top images per caption (rows).
        name="top_k_over_captions",
        notebook="clip.ipynb",
        cell="retrieve_top_k",
        replace=[("torch.topk(similarity, k, dim=1)", "torch.topk(similarity, k, dim=0)")],
        loses=["test_retrieve_top_k"],
    ),
]
