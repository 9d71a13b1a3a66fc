"""Plausible student mistakes in solutions/05_regularization/; format in README.md."""

BN = "batchnorm.ipynb"
DROP = "dropout.ipynb"
AUG = "augmentation.ipynb"

BUGS = [
    # --- batchnorm.ipynb: forward ---
    dict(
        name="bn_unbiased_variance",
        notebook=BN,
        cell="batchnorm_forward",
        replace=[("var = x.var(axis=0)  # (D,)", "var = x.var(axis=0, ddof=1)  # (D,)")],
        loses=["test_batchnorm_forward"],
    ),
    dict(
        # Test data leaks into the model: the running mean moves in test mode too.
        name="bn_running_mean_updated_in_test_mode",
        notebook=BN,
        cell="batchnorm_forward",
        replace=[
            (
                "        mean, var = running_mean, running_var\n",
                "        mean, var = running_mean, running_var\n"
                "        running_mean = momentum * running_mean"
                " + (1 - momentum) * x.mean(axis=0)\n",
            )
        ],
        loses=["test_batchnorm_forward"],
    ),
    dict(
        name="bn_momentum_weights_swapped",
        notebook=BN,
        cell="batchnorm_forward",
        replace=[
            (
                "running_mean = momentum * running_mean + (1 - momentum) * mean",
                "running_mean = (1 - momentum) * running_mean + momentum * mean",
            ),
            (
                "running_var = momentum * running_var + (1 - momentum) * var",
                "running_var = (1 - momentum) * running_var + momentum * var",
            ),
        ],
        loses=["test_batchnorm_forward"],
    ),
    dict(
        name="bn_test_mode_uses_batch_statistics",
        notebook=BN,
        cell="batchnorm_forward",
        replace=[
            (
                "mean, var = running_mean, running_var",
                "mean, var = x.mean(axis=0), x.var(axis=0)",
            )
        ],
        loses=["test_batchnorm_forward"],
    ),
    # --- batchnorm.ipynb: backward ---
    dict(
        # The classic: x also reaches the output through the batch mean.
        name="bn_backward_ignores_the_mean_path",
        notebook=BN,
        cell="batchnorm_backward",
        replace=[("dx = dcentered + dmean / N", "dx = dcentered")],
        loses=["test_batchnorm_backward"],
    ),
    dict(
        name="bn_backward_ignores_the_variance_path",
        notebook=BN,
        cell="batchnorm_backward",
        replace=[
            (
                "dcentered = dx_hat * inv_std + dvar * 2.0 * centered / N",
                "dcentered = dx_hat * inv_std",
            )
        ],
        loses=["test_batchnorm_backward"],
    ),
    dict(
        name="bn_backward_alt_drops_the_mean_term",
        notebook=BN,
        cell="batchnorm_backward_alt",
        replace=[("(N * dout - dbeta - x_hat * dgamma)", "(N * dout - x_hat * dgamma)")],
        loses=["test_batchnorm_backward_alt"],
    ),
    dict(
        name="bn_backward_alt_forgets_gamma",
        notebook=BN,
        cell="batchnorm_backward_alt",
        replace=[("dx = (gamma * inv_std / N)", "dx = (inv_std / N)")],
        loses=["test_batchnorm_backward_alt"],
    ),
    # --- batchnorm.ipynb: layer norm ---
    dict(
        # Batch norm's axis: statistics over the batch instead of over each row.
        name="ln_statistics_over_the_batch",
        notebook=BN,
        cell="layernorm_forward",
        replace=[
            ("mean = x.mean(axis=1, keepdims=True)", "mean = x.mean(axis=0, keepdims=True)"),
            ("var = x.var(axis=1, keepdims=True)", "var = x.var(axis=0, keepdims=True)"),
        ],
        loses=["test_layernorm_forward"],
    ),
    dict(
        # gamma multiplied after the row sums instead of before them.
        name="ln_backward_applies_gamma_after_the_sums",
        notebook=BN,
        cell="layernorm_backward",
        replace=[
            ("dx_hat = dout * gamma  # (N, D)", "dx_hat = dout  # (N, D)"),
            ("dx = (inv_std / D) * (", "dx = gamma * (inv_std / D) * ("),
        ],
        loses=["test_layernorm_backward"],
    ),
    # --- dropout.ipynb ---
    dict(
        name="dropout_without_the_one_over_p_scaling",
        notebook=DROP,
        cell="dropout_forward",
        replace=[
            ("mask = (rng.random(x.shape) < p) / p", "mask = (rng.random(x.shape) < p) * 1.0")
        ],
        loses=["test_dropout_forward"],
    ),
    dict(
        # torch's convention: p read as the probability of dropping.
        name="dropout_p_read_as_drop_probability",
        notebook=DROP,
        cell="dropout_forward",
        replace=[("mask = (rng.random(x.shape) < p) / p", "mask = (rng.random(x.shape) >= p) / p")],
        loses=["test_dropout_forward"],
    ),
    dict(
        # "Plain" dropout's test-time scaling on top of inverted dropout.
        name="dropout_test_mode_scales_by_p",
        notebook=DROP,
        cell="dropout_forward",
        replace=[("out = x.copy()", "out = x * p")],
        loses=["test_dropout_forward"],
    ),
    dict(
        name="dropout_ignores_the_seed",
        notebook=DROP,
        cell="dropout_forward",
        replace=[
            (
                "mask = (rng.random(x.shape) < p) / p",
                "mask = (np.random.random_sample(x.shape) < p) / p",
            )
        ],
        loses=["test_dropout_forward"],
    ),
    dict(
        name="dropout_backward_ignores_the_mask",
        notebook=DROP,
        cell="dropout_backward",
        replace=[("dx = dout * mask", "dx = dout")],
        loses=["test_dropout_backward"],
    ),
    # --- dropout.ipynb: the hidden block ---
    dict(
        name="block_backward_skips_the_relu",
        notebook=DROP,
        cell="hidden_block",
        replace=[("    dout = relu_backward(dout, relu_cache)\n", "")],
        loses=["test_hidden_block"],
    ),
    dict(
        name="block_backward_skips_the_dropout",
        notebook=DROP,
        cell="hidden_block",
        replace=[("dout = dropout_backward(dout, dropout_cache)", "dout = dout")],
        loses=["test_hidden_block"],
    ),
    dict(
        # ReLU before the normalization instead of after it.
        name="block_normalizes_after_the_relu",
        notebook=DROP,
        cell="hidden_block",
        replace=[
            (
                "out, affine_cache = affine_forward(x, w, b)  # (N, H)\n",
                "out, affine_cache = affine_forward(x, w, b)  # (N, H)\n"
                "    out, relu_cache = relu_forward(out)\n",
            ),
            (
                "    out, relu_cache = relu_forward(out)\n    if dropout_param",
                "    if dropout_param",
            ),
        ],
        loses=["test_hidden_block"],
    ),
    dict(
        # A fresh bn_param, as the activations demo of batchnorm.ipynb builds one: the block
        # then always normalizes with the batch and the caller's running averages never move.
        name="block_builds_its_own_bn_param",
        notebook=DROP,
        cell="hidden_block",
        replace=[
            (
                "batchnorm_forward(out, gamma, beta, norm_param)",
                'batchnorm_forward(out, gamma, beta, {"mode": "train"})',
            )
        ],
        loses=["test_hidden_block"],
    ),
    # --- augmentation.ipynb ---
    dict(
        # Off by one: rng.integers excludes its upper bound, so the largest shift never occurs.
        name="crop_offsets_miss_the_largest_shift",
        notebook=AUG,
        cell="random_crop",
        replace=[
            (
                "tops = rng.integers(0, 2 * padding + 1, size=N)",
                "tops = rng.integers(0, 2 * padding, size=N)",
            ),
            (
                "lefts = rng.integers(0, 2 * padding + 1, size=N)",
                "lefts = rng.integers(0, 2 * padding, size=N)",
            ),
        ],
        loses=["test_random_crop"],
    ),
    dict(
        name="flip_reverses_rows_instead_of_columns",
        notebook=AUG,
        cell="random_horizontal_flip",
        replace=[("images[:, :, ::-1], images)", "images[:, ::-1], images)")],
        loses=["test_random_horizontal_flip"],
    ),
    dict(
        # Contrast blended with each pixel's grey (that is saturation), not the image mean.
        name="contrast_uses_each_pixels_grey",
        notebook=AUG,
        cell="color_jitter",
        replace=[
            (
                "mean = grayscale(images).mean(axis=(1, 2, 3), keepdims=True)",
                "mean = grayscale(images)",
            )
        ],
        loses=["test_color_jitter"],
    ),
    dict(
        name="jitter_factors_only_above_one",
        notebook=AUG,
        cell="color_jitter",
        replace=[
            (
                "rng.uniform(max(0.0, 1.0 - strength), 1.0 + strength, size=N)",
                "rng.uniform(1.0, 1.0 + strength, size=N)",
            )
        ],
        loses=["test_color_jitter"],
    ),
    dict(
        name="brightness_not_clipped",
        notebook=AUG,
        cell="color_jitter",
        replace=[
            (
                "out = np.clip(images * factors.reshape(-1, 1, 1, 1), 0.0, 1.0)",
                "out = images * factors.reshape(-1, 1, 1, 1)",
            )
        ],
        loses=["test_color_jitter"],
    ),
    dict(
        name="rotation_about_the_corner",
        notebook=AUG,
        cell="rotate",
        replace=[("cy, cx = (H - 1) / 2, (W - 1) / 2", "cy, cx = 0.0, 0.0")],
        loses=["test_rotate"],
    ),
    dict(
        # Half a pixel off: H / 2 is the centre of the grid of pixel edges, not of centres.
        name="rotation_centre_off_by_half_a_pixel",
        notebook=AUG,
        cell="rotate",
        replace=[("cy, cx = (H - 1) / 2, (W - 1) / 2", "cy, cx = H / 2, W / 2")],
        loses=["test_rotate"],
    ),
    dict(
        name="rotation_clockwise",
        notebook=AUG,
        cell="rotate",
        replace=[
            (
                "src_x = np.cos(theta) * x - np.sin(theta) * y + cx",
                "src_x = np.cos(theta) * x + np.sin(theta) * y + cx",
            ),
            (
                "src_y = np.sin(theta) * x + np.cos(theta) * y + cy",
                "src_y = -np.sin(theta) * x + np.cos(theta) * y + cy",
            ),
        ],
        loses=["test_rotate"],
    ),
    dict(
        name="rotation_nearest_neighbour_instead_of_bilinear",
        notebook=AUG,
        cell="rotate",
        replace=[
            ("a = (rows - r0)[..., None]", "a = np.round(rows - r0)[..., None]"),
            ("b = (cols - c0)[..., None]", "b = np.round(cols - c0)[..., None]"),
        ],
        loses=["test_rotate"],
    ),
]
