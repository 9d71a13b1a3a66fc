"""Plausible mistakes in 16_self_supervised (see README.md): four at most per graded
cell, the ones students make most (each breaks its own cell's test and no other).
"""

BUGS = [
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
