"""Plausible student mistakes in solutions/07_pytorch/*.ipynb; format in README.md."""

BUGS = [
    # --- pytorch.ipynb ---------------------------------------------------------------------
    dict(
        # Zeroes the negative entries first, so rows with a negative sum can be kept.
        name="positive_rows_zeroes_before_selecting",
        notebook="pytorch.ipynb",
        cell="positive_rows",
        replace=[
            ("rows = x[x.sum(dim=1) > 0]", "x = x.clamp(min=0)\n    rows = x[x.sum(dim=1) > 0]")
        ],
        loses=["test_positive_rows"],
    ),
    dict(
        name="positive_rows_sums_columns",
        notebook="pytorch.ipynb",
        cell="positive_rows",
        replace=[("x.sum(dim=1) > 0", "x.sum(dim=0) > 0")],
        loses=["test_positive_rows"],
    ),
    dict(
        # Every row at every label: an (N, N) matrix.
        name="correct_scores_by_column_index",
        notebook="pytorch.ipynb",
        cell="correct_class_scores",
        replace=[
            ("return scores[torch.arange(len(y), device=scores.device), y]", "return scores[:, y]")
        ],
        loses=["test_correct_class_scores"],
    ),
    dict(
        name="gather_along_the_rows",
        notebook="pytorch.ipynb",
        cell="gather_scores",
        replace=[("return scores.gather(1, index)", "return scores.gather(0, index)")],
        loses=["test_gather_scores"],
    ),
    dict(
        # view on the permuted, non-contiguous tensor raises.
        name="channels_first_rows_view_after_permute",
        notebook="pytorch.ipynb",
        cell="channels_first_rows",
        replace=[("return nchw.reshape(len(x), -1)", "return nchw.view(len(x), -1)")],
        loses=["test_channels_first_rows"],
    ),
    dict(
        # A reshape keeps the memory order: the pixels are scrambled, not transposed.
        name="channels_first_rows_reshape_instead_of_permute",
        notebook="pytorch.ipynb",
        cell="channels_first_rows",
        replace=[
            (
                "nchw = x.permute(0, 3, 1, 2)",
                "nchw = x.reshape(x.shape[0], x.shape[3], x.shape[1], x.shape[2])",
            )
        ],
        loses=["test_channels_first_rows"],
    ),
    dict(
        # (M, 1) + (N, 1): an error when M != N, wrong values when M == N.
        name="pairwise_norms_of_B_as_a_column",
        notebook="pytorch.ipynb",
        cell="pairwise_squared_distances",
        replace=[("B_sq = (B**2).sum(dim=1)[None, :]", "B_sq = (B**2).sum(dim=1, keepdim=True)")],
        loses=["test_pairwise_squared_distances"],
    ),
    dict(
        # Right values, but the caller's scores change (and a leaf refuses it).
        name="softmax_shifts_scores_in_place",
        notebook="pytorch.ipynb",
        cell="softmax_rows",
        replace=[
            (
                "shifted = scores - scores.max(dim=1, keepdim=True).values",
                "scores -= scores.max(dim=1, keepdim=True).values\n    shifted = scores",
            )
        ],
        loses=["test_softmax_rows"],
    ),
    dict(
        # Right values, but exp's saved output is overwritten: backward raises.
        name="softmax_divides_exp_in_place",
        notebook="pytorch.ipynb",
        cell="softmax_rows",
        replace=[
            (
                "return exps / exps.sum(dim=1, keepdim=True)",
                "exps /= exps.sum(dim=1, keepdim=True)\n    return exps",
            )
        ],
        loses=["test_softmax_rows"],
    ),
    dict(
        # uint8 arithmetic wraps around: 100 - 128 is 228.
        name="pixels_subtract_before_converting",
        notebook="pytorch.ipynb",
        cell="pixels_to_float",
        replace=[
            ("values = pixels.to(device=device, dtype=torch.float32)", "values = pixels"),
            ("return (values - 128) / 128", "return ((values - 128) / 128).to(device)"),
        ],
        loses=["test_pixels_to_float"],
    ),
    dict(
        name="pixels_ignore_device",
        notebook="pytorch.ipynb",
        cell="pixels_to_float",
        replace=[
            ("pixels.to(device=device, dtype=torch.float32)", "pixels.to(dtype=torch.float32)")
        ],
        loses=["test_pixels_to_float"],
    ),
    dict(
        # 03's loss has 0.5 * reg * (sum W1^2 + sum W2^2).
        name="autograd_penalty_without_half",
        notebook="pytorch.ipynb",
        cell="two_layer_net_grads",
        replace=[("+ 0.5 * reg * penalty", "+ reg * penalty")],
        loses=["test_two_layer_net_grads"],
    ),
    dict(
        # A (C,) vector broadcasts against the last axis, W: wrong when C == W, else an error.
        name="standardize_broadcasts_over_width",
        notebook="pytorch.ipynb",
        cell="standardize",
        replace=[("(x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)", "(x - mean) / std")],
        loses=["test_standardize"],
    ),
    dict(
        name="autograd_loss_without_penalty_on_W2",
        notebook="pytorch.ipynb",
        cell="two_layer_net_grads",
        replace=[
            (
                'penalty = torch.sum(leaves["W1"] ** 2) + torch.sum(leaves["W2"] ** 2)',
                'penalty = torch.sum(leaves["W1"] ** 2)',
            )
        ],
        loses=["test_two_layer_net_grads"],
    ),
    dict(
        name="functional_convnet_without_hidden_relu",
        notebook="pytorch.ipynb",
        cell="convnet_forward",
        replace=[
            (
                'out = F.relu(F.linear(out.flatten(1), params["fc1_w"], params["fc1_b"]))',
                'out = F.linear(out.flatten(1), params["fc1_w"], params["fc1_b"])',
            )
        ],
        loses=["test_convnet_forward"],
    ),
    dict(
        # A consistent network, but not the one asked for: no pooling, a 4x larger fc1.
        name="module_convnet_without_pooling",
        notebook="pytorch.ipynb",
        cell="ConvNet",
        replace=[
            ("pooled = image_size // 2", "pooled = image_size"),
            (
                "out = F.max_pool2d(F.relu(self.conv(x)), kernel_size=2)",
                "out = F.relu(self.conv(x))",
            ),
        ],
        loses=["test_ConvNet"],
    ),
    dict(
        # The numpy dropout of 05 takes the probability of keeping; torch's p drops.
        name="sequential_dropout_keep_probability",
        notebook="pytorch.ipynb",
        cell="make_sequential_convnet",
        replace=[("nn.Dropout(p=dropout)", "nn.Dropout(p=1 - dropout)")],
        loses=["test_make_sequential_convnet"],
    ),
    dict(
        # Shuffles with the global generator: the order depends on what ran before.
        name="loader_shuffle_ignores_seed",
        notebook="pytorch.ipynb",
        cell="make_loader",
        replace=[
            (
                "generator = torch.Generator().manual_seed(seed) if shuffle else None",
                "generator = None",
            )
        ],
        loses=["test_make_loader"],
    ),
    dict(
        name="train_without_zero_grad",
        notebook="pytorch.ipynb",
        cell="train_one_epoch",
        replace=[("        optimizer.zero_grad()\n", "")],
        loses=["test_train_one_epoch"],
    ),
    dict(
        # Averages the batch means: wrong when the last batch is smaller.
        name="train_loss_unweighted_batch_mean",
        notebook="pytorch.ipynb",
        cell="train_one_epoch",
        replace=[
            ("total_loss += loss.item() * len(y_batch)", "total_loss += loss.item()"),
            ("count += len(y_batch)", "count += 1"),
        ],
        loses=["test_train_one_epoch"],
    ),
    dict(
        name="evaluate_in_train_mode",
        notebook="pytorch.ipynb",
        cell="evaluate",
        replace=[("    model.eval()\n", "")],
        loses=["test_evaluate"],
    ),
    dict(
        # Averages per-batch accuracies: wrong when the last batch is smaller.
        name="evaluate_mean_of_batch_accuracies",
        notebook="pytorch.ipynb",
        cell="evaluate",
        replace=[
            (
                "correct += (model(X_batch).argmax(dim=1) == y_batch).sum().item()",
                "correct += (model(X_batch).argmax(dim=1) == y_batch).float().mean().item()",
            ),
            ("count += len(y_batch)", "count += 1"),
        ],
        loses=["test_evaluate"],
    ),
    # --- architectures.ipynb ---------------------------------------------------------------
    dict(
        name="conv_cost_without_bias",
        notebook="architectures.ipynb",
        cell="conv2d_cost",
        replace=[("num_params = weights + (out_channels if bias else 0)", "num_params = weights")],
        loses=["test_conv2d_cost"],
    ),
    dict(
        name="alexnet_dropout_keep_probability",
        notebook="architectures.ipynb",
        cell="AlexNetSmall",
        replace=[("nn.Dropout(dropout)", "nn.Dropout(1 - dropout)")],
        loses=["test_AlexNetSmall"],
    ),
    dict(
        name="alexnet_first_conv_stride_1",
        notebook="architectures.ipynb",
        cell="AlexNetSmall",
        replace=[("kernel_size=7, stride=2, padding=3", "kernel_size=7, stride=1, padding=3")],
        loses=["test_AlexNetSmall"],
    ),
    dict(
        # The bug: 3x3 convs without padding shrink the image by 2 pixels each.
        name="vgg_convs_without_padding",
        notebook="architectures.ipynb",
        cell="vgg_stage",
        replace=[("kernel_size=3, padding=1)", "kernel_size=3, padding=0)")],
        loses=["test_vgg_stage"],
    ),
    dict(
        name="vgg_every_conv_from_in_channels",
        notebook="architectures.ipynb",
        cell="vgg_stage",
        replace=[("channels = in_channels if i == 0 else out_channels", "channels = in_channels")],
        loses=["test_vgg_stage"],
    ),
    dict(
        # The bug: branches summed instead of concatenated.
        name="inception_branches_summed",
        notebook="architectures.ipynb",
        cell="Inception",
        replace=[("return torch.cat(branches, dim=1)", "return sum(branches)")],
        loses=["test_Inception"],
    ),
    dict(
        name="inception_concatenated_on_width",
        notebook="architectures.ipynb",
        cell="Inception",
        replace=[("return torch.cat(branches, dim=1)", "return torch.cat(branches, dim=-1)")],
        loses=["test_Inception"],
    ),
    dict(
        # The bug: no projection shortcut when the block changes the shape.
        name="basic_block_without_projection",
        notebook="architectures.ipynb",
        cell="BasicBlock",
        replace=[
            (
                "if stride != 1 or in_channels != out_channels:",
                "if False:  # the shortcut is always x itself",
            )
        ],
        loses=["test_BasicBlock"],
    ),
    dict(
        name="basic_block_relu_before_addition",
        notebook="architectures.ipynb",
        cell="BasicBlock",
        replace=[
            (
                "return torch.relu(self.residual(x) + self.shortcut(x))",
                "return torch.relu(self.residual(x)) + self.shortcut(x)",
            )
        ],
        loses=["test_BasicBlock"],
    ),
    dict(
        name="bottleneck_without_expansion",
        notebook="architectures.ipynb",
        cell="Bottleneck",
        replace=[("out_channels = self.expansion * mid_channels", "out_channels = mid_channels")],
        loses=["test_Bottleneck"],
    ),
    dict(
        # Projects only when the channels change, not when the stride alone changes the shape.
        name="bottleneck_projection_only_for_channels",
        notebook="architectures.ipynb",
        cell="Bottleneck",
        replace=[
            (
                "if stride != 1 or in_channels != out_channels:",
                "if in_channels != out_channels:",
            )
        ],
        loses=["test_Bottleneck"],
    ),
    # --- challenge.ipynb -------------------------------------------------------------------
    # Each is graded with the solution's trained weights (tests/fixtures/07_pytorch/), as a
    # student whose notebook changed after the weights were saved.
    dict(
        # The weights load, but without its ReLUs the trained net scores about 0.3.
        name="challenge_forward_without_relu",
        notebook="challenge.ipynb",
        cell="ChallengeNet",
        replace=[("x = F.relu(norm(conv(x)))", "x = norm(conv(x))")],
        loses=["test_challenge_bar_1", "test_challenge_bar_2", "test_challenge_bar_3"],
    ),
    dict(
        # Batch norm on each batch's own statistics, also in eval mode: the accuracy on
        # batches of 250 hardly changes, but an image's scores depend on its batch.
        name="challenge_batch_norm_on_batch_statistics",
        notebook="challenge.ipynb",
        cell="ChallengeNet",
        replace=[
            (
                "x = F.relu(norm(conv(x)))",
                "x = F.relu(F.batch_norm(conv(x), None, None, norm.weight, norm.bias, True))",
            )
        ],
        loses=["test_challenge_model"],
    ),
    dict(
        # A wider last layer than the saved weights: they no longer load, nothing is graded.
        name="challenge_model_changed_after_saving",
        notebook="challenge.ipynb",
        cell="ChallengeNet",
        replace=[("widths = [1, 16, 32, 32, 64, 64]", "widths = [1, 16, 32, 32, 64, 96]")],
        loses=[
            "test_challenge_model",
            "test_challenge_bar_1",
            "test_challenge_bar_2",
            "test_challenge_bar_3",
        ],
    ),
]
