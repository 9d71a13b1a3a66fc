"""Plausible mistakes in 15_understanding (see README.md): four at most per graded cell,
the ones students make most (each breaks its own cell's test and no other).
"""

BUGS = [
    dict(
        # The signed gradient: pixels whose brightening lowers the score look unimportant.
        name="saliency_without_the_absolute_value",
        notebook="visualization.ipynb",
        cell="compute_saliency_maps",
        replace=[
            ("return X.grad.abs().amax(dim=1).detach()", "return X.grad.amax(dim=1).detach()")
        ],
        loses=["test_compute_saliency_maps"],
    ),
    dict(
        name="saliency_sums_the_channels",
        notebook="visualization.ipynb",
        cell="compute_saliency_maps",
        replace=[
            ("return X.grad.abs().amax(dim=1).detach()", "return X.grad.abs().sum(dim=1).detach()")
        ],
        loses=["test_compute_saliency_maps"],
    ),
    dict(
        name="saliency_of_the_first_channel_only",
        notebook="visualization.ipynb",
        cell="compute_saliency_maps",
        replace=[
            ("return X.grad.abs().amax(dim=1).detach()", "return X.grad.abs()[:, 0].detach()")
        ],
        loses=["test_compute_saliency_maps"],
    ),
    dict(
        # Batch norm on the batch's statistics: the images' gradients mix.
        name="saliency_with_the_model_in_train_mode",
        notebook="visualization.ipynb",
        cell="compute_saliency_maps",
        replace=[("    model.eval()\n", "")],
        loses=["test_compute_saliency_maps"],
    ),
    dict(
        # Gradient descent on the target score: away from the target.
        name="fooling_step_with_the_wrong_sign",
        notebook="visualization.ipynb",
        cell="make_fooling_image",
        replace=[
            (
                "X_fooling += learning_rate * grad / grad.norm()",
                "X_fooling -= learning_rate * grad / grad.norm()",
            )
        ],
        loses=["test_make_fooling_image"],
    ),
    dict(
        # All max_iters steps, long after the label flipped.
        name="fooling_never_stops_early",
        notebook="visualization.ipynb",
        cell="make_fooling_image",
        replace=[("        if scores.argmax(dim=1).item() == target_y:\n            break\n", "")],
        loses=["test_make_fooling_image"],
    ),
    dict(
        # Values leave [0, 1]: not an image any more.
        name="fooling_image_not_clamped",
        notebook="visualization.ipynb",
        cell="make_fooling_image",
        replace=[("\n            X_fooling.clamp_(0.0, 1.0)", "")],
        loses=["test_make_fooling_image"],
    ),
    dict(
        name="fooling_step_not_normalized",
        notebook="visualization.ipynb",
        cell="make_fooling_image",
        replace=[
            ("X_fooling += learning_rate * grad / grad.norm()", "X_fooling += learning_rate * grad")
        ],
        loses=["test_make_fooling_image"],
    ),
    dict(
        # Down the loss: FGSM lowers the loss it should raise.
        name="fgsm_gradient_sign_flipped",
        notebook="visualization.ipynb",
        cell="fgsm_attack",
        replace=[
            (
                "return (X + epsilon * grad.sign()).clamp(0.0, 1.0).detach()",
                "return (X - epsilon * grad.sign()).clamp(0.0, 1.0).detach()",
            )
        ],
        loses=["test_fgsm_attack"],
    ),
    dict(
        name="fgsm_not_clamped",
        notebook="visualization.ipynb",
        cell="fgsm_attack",
        replace=[
            (
                "return (X + epsilon * grad.sign()).clamp(0.0, 1.0).detach()",
                "return (X + epsilon * grad.sign()).detach()",
            )
        ],
        loses=["test_fgsm_attack"],
    ),
    dict(
        # The gradient itself, not its sign: a step of almost nothing.
        name="fgsm_gradient_instead_of_its_sign",
        notebook="visualization.ipynb",
        cell="fgsm_attack",
        replace=[
            (
                "return (X + epsilon * grad.sign()).clamp(0.0, 1.0).detach()",
                "return (X + epsilon * grad).clamp(0.0, 1.0).detach()",
            )
        ],
        loses=["test_fgsm_attack"],
    ),
    dict(
        # The model's own predictions as labels instead of the true ones.
        name="fgsm_on_the_predicted_labels",
        notebook="visualization.ipynb",
        cell="fgsm_attack",
        replace=[
            (
                "loss = F.cross_entropy(model(X), y)",
                "loss = F.cross_entropy(model(X), model(X).argmax(dim=1))",
            )
        ],
        loses=["test_fgsm_attack"],
    ),
    dict(
        name="class_visualization_without_the_l2_term",
        notebook="visualization.ipynb",
        cell="class_visualization_update_step",
        replace=[
            (
                "objective = model(img)[0, target_y] - l2_reg * img.pow(2).sum()",
                "objective = model(img)[0, target_y]",
            )
        ],
        loses=["test_class_visualization_update_step"],
    ),
    dict(
        # A reward for large images instead of a penalty.
        name="class_visualization_l2_term_added",
        notebook="visualization.ipynb",
        cell="class_visualization_update_step",
        replace=[
            (
                "objective = model(img)[0, target_y] - l2_reg * img.pow(2).sum()",
                "objective = model(img)[0, target_y] + l2_reg * img.pow(2).sum()",
            )
        ],
        loses=["test_class_visualization_update_step"],
    ),
    dict(
        name="class_visualization_step_not_normalized",
        notebook="visualization.ipynb",
        cell="class_visualization_update_step",
        replace=[("img += learning_rate * grad / grad.norm()", "img += learning_rate * grad")],
        loses=["test_class_visualization_update_step"],
    ),
    dict(
        name="class_visualization_descent",
        notebook="visualization.ipynb",
        cell="class_visualization_update_step",
        replace=[
            (
                "img += learning_rate * grad / grad.norm()",
                "img -= learning_rate * grad / grad.norm()",
            )
        ],
        loses=["test_class_visualization_update_step"],
    ),
    dict(
        # The weight forgotten: the balance with the style loss is lost.
        name="content_loss_without_the_weight",
        notebook="style_transfer.ipynb",
        cell="content_loss",
        replace=[("return content_weight * ((", "return ((")],
        loses=["test_content_loss"],
    ),
    dict(
        # Absolute differences (L1) where the notebook asks for squares.
        name="content_loss_with_abs",
        notebook="style_transfer.ipynb",
        cell="content_loss",
        replace=[
            (
                "((content_current - content_original) ** 2).sum()",
                "(content_current - content_original).abs().sum()",
            )
        ],
        loses=["test_content_loss"],
    ),
    dict(
        # Not divided by H * W * C as the notebook says.
        name="gram_matrix_not_normalized",
        notebook="style_transfer.ipynb",
        cell="gram_matrix",
        replace=[("gram = gram / (H * W * C)", "gram = gram")],
        loses=["test_gram_matrix"],
    ),
    dict(
        # Divided by the number of positions only.
        name="gram_matrix_normalized_by_hw_only",
        notebook="style_transfer.ipynb",
        cell="gram_matrix",
        replace=[("gram = gram / (H * W * C)", "gram = gram / (H * W)")],
        loses=["test_gram_matrix"],
    ),
    dict(
        # F^T F: (N, H W, H W), the inner products of positions instead of channels.
        name="gram_matrix_transposed",
        notebook="style_transfer.ipynb",
        cell="gram_matrix",
        replace=[("gram = flat @ flat.transpose(1, 2)", "gram = flat.transpose(1, 2) @ flat")],
        loses=["test_gram_matrix"],
    ),
    dict(
        # normalize=False ignored: always divided.
        name="gram_matrix_ignores_normalize",
        notebook="style_transfer.ipynb",
        cell="gram_matrix",
        replace=[
            (
                "    if normalize:\n        gram = gram / (H * W * C)",
                "    gram = gram / (H * W * C)",
            )
        ],
        loses=["test_gram_matrix"],
    ),
    dict(
        # One weight (the first) for every layer.
        name="style_loss_same_weight_for_every_layer",
        notebook="style_transfer.ipynb",
        cell="style_loss",
        replace=[("style_weights[i] *", "style_weights[0] *")],
        loses=["test_style_loss"],
    ),
    dict(
        # The target indexed by the layer instead of the position in style_layers.
        name="style_loss_wrong_target_for_a_layer",
        notebook="style_transfer.ipynb",
        cell="style_loss",
        replace=[("- style_targets[i]", "- style_targets[layer]")],
        loses=["test_style_loss"],
    ),
    dict(
        # The sum over layers forgotten: only the last layer counts.
        name="style_loss_only_the_last_layer",
        notebook="style_transfer.ipynb",
        cell="style_loss",
        replace=[("loss = loss + style_weights[i]", "loss = style_weights[i]")],
        loses=["test_style_loss"],
    ),
    dict(
        # Unnormalized Gram matrices against normalized targets.
        name="style_loss_unnormalized_gram",
        notebook="style_transfer.ipynb",
        cell="style_loss",
        replace=[("gram_matrix(feats[layer])", "gram_matrix(feats[layer], normalize=False)")],
        loses=["test_style_loss"],
    ),
    dict(
        # Only the vertical neighbours.
        name="tv_loss_one_direction_only",
        notebook="style_transfer.ipynb",
        cell="tv_loss",
        replace=[("((vertical**2).sum() + (horizontal**2).sum())", "(vertical**2).sum()")],
        loses=["test_tv_loss"],
    ),
    dict(
        # One direction counted twice (a copy-paste slip).
        name="tv_loss_one_direction_twice",
        notebook="style_transfer.ipynb",
        cell="tv_loss",
        replace=[("(horizontal**2).sum())", "(vertical**2).sum())")],
        loses=["test_tv_loss"],
    ),
    dict(
        # Absolute differences (the anisotropic L1 TV) instead of squares.
        name="tv_loss_with_abs",
        notebook="style_transfer.ipynb",
        cell="tv_loss",
        replace=[
            (
                "((vertical**2).sum() + (horizontal**2).sum())",
                "(vertical.abs().sum() + horizontal.abs().sum())",
            )
        ],
        loses=["test_tv_loss"],
    ),
    dict(
        # torch.roll: the last row and column also compared with the first.
        name="tv_loss_wraps_around",
        notebook="style_transfer.ipynb",
        cell="tv_loss",
        replace=[
            (
                "vertical = img[:, :, 1:, :] - img[:, :, :-1, :]",
                "vertical = torch.roll(img, -1, dims=2) - img",
            ),
            (
                "horizontal = img[:, :, :, 1:] - img[:, :, :, :-1]",
                "horizontal = torch.roll(img, -1, dims=3) - img",
            ),
        ],
        loses=["test_tv_loss"],
    ),
]
