"""Plausible student mistakes in solutions/03_backprop/; format in README.md."""

NB = "backprop.ipynb"
FEATURES = "features.ipynb"

BUGS = [
    # --- 1. the chain rule by hand ---
    dict(
        name="simple_graph_dfdz_takes_its_own_value",
        notebook=NB,
        cell="simple_graph",
        replace=[("dfdz = q * dfdf", "dfdz = z * dfdf")],
        loses=["test_simple_graph"],
    ),
    # --- 2. the scalar engine ---
    dict(
        # = instead of +=: a value used twice keeps only the last share of its gradient.
        name="value_add_overwrites_grad_on_reuse",
        notebook=NB,
        cell="value_arithmetic",
        replace=[
            ("self.grad += out.grad  # the add gate", "self.grad = out.grad  # the add gate"),
            ("other.grad += out.grad\n", "other.grad = out.grad\n"),
        ],
        loses=["test_value_arithmetic"],
    ),
    dict(
        name="value_mul_local_gradient_not_swapped",
        notebook=NB,
        cell="value_arithmetic",
        replace=[("self.grad += other.data * out.grad", "self.grad += self.data * out.grad")],
        loses=["test_value_arithmetic"],
    ),
    dict(
        name="value_pow_forgets_upstream_gradient",
        notebook=NB,
        cell="value_arithmetic",
        replace=[
            (
                "exponent * self.data ** (exponent - 1) * out.grad",
                "exponent * self.data ** (exponent - 1)",
            )
        ],
        loses=["test_value_arithmetic"],
    ),
    dict(
        name="tanh_derivative_not_squared",
        notebook=NB,
        cell="value_functions",
        replace=[("self.grad += (1 - t**2) * out.grad", "self.grad += (1 - t) * out.grad")],
        loses=["test_value_functions"],
    ),
    dict(
        name="exp_forgets_upstream_gradient",
        notebook=NB,
        cell="value_functions",
        replace=[("self.grad += out.data * out.grad", "self.grad += out.data")],
        loses=["test_value_functions"],
    ),
    dict(
        # math.exp(1000) raises OverflowError for sigmoid(-1000).
        name="sigmoid_overflows_for_large_negative_input",
        notebook=NB,
        cell="value_functions",
        replace=[("if self.data >= 0:", "if True:")],
        loses=["test_value_functions"],
    ),
    dict(
        name="backward_without_seeding_the_output_gradient",
        notebook=NB,
        cell="value_backward",
        replace=[("    self.grad = 1.0\n", "")],
        loses=["test_value_backward"],
    ),
    dict(
        name="backward_in_forward_order",
        notebook=NB,
        cell="value_backward",
        replace=[("for node in reversed(order):", "for node in order:")],
        loses=["test_value_backward"],
    ),
    dict(
        # A node reached along two paths is listed twice and sends its gradient twice.
        name="backward_without_visited_set",
        notebook=NB,
        cell="value_backward",
        replace=[("if node not in visited:", "if True:")],
        loses=["test_value_backward"],
    ),
    # --- 3. layers ---
    dict(
        name="affine_forward_without_flattening",
        notebook=NB,
        cell="affine_forward",
        replace=[("out = x.reshape(x.shape[0], -1) @ w + b", "out = x @ w + b")],
        loses=["test_affine_forward"],
    ),
    dict(
        name="affine_backward_without_reshape_to_input_shape",
        notebook=NB,
        cell="affine_backward",
        replace=[("dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T")],
        loses=["test_affine_backward"],
    ),
    dict(
        name="affine_backward_db_sums_wrong_axis",
        notebook=NB,
        cell="affine_backward",
        replace=[("db = dout.sum(axis=0)", "db = dout.sum(axis=1)")],
        loses=["test_affine_backward"],
    ),
    dict(
        name="relu_forward_modifies_its_input",
        notebook=NB,
        cell="relu_forward",
        replace=[("out = np.maximum(0, x)\n", "x[x < 0] = 0\n    out = x\n")],
        loses=["test_relu_forward"],
    ),
    dict(
        # Multiplies by the forward output max(0, x) instead of by the mask x > 0.
        name="relu_backward_uses_output_instead_of_input_mask",
        notebook=NB,
        cell="relu_backward",
        replace=[("dx = dout * (x > 0)", "dx = dout * np.maximum(0, x)")],
        loses=["test_relu_backward"],
    ),
    dict(
        name="relu_backward_masks_by_upstream_sign",
        notebook=NB,
        cell="relu_backward",
        replace=[("dx = dout * (x > 0)", "dx = np.maximum(0, dout)")],
        loses=["test_relu_backward"],
    ),
    dict(
        name="softmax_without_max_shift",
        notebook=NB,
        cell="softmax_loss",
        replace=[("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")],
        loses=["test_softmax_loss"],
    ),
    dict(
        # exp, then log: the probability of a class scored far below the best rounds to 0.
        name="softmax_log_of_rounded_probability",
        notebook=NB,
        cell="softmax_loss",
        replace=[
            (
                "loss = -log_probs[rows, y].mean()",
                "loss = -np.log(np.exp(log_probs)[rows, y]).mean()",
            )
        ],
        loses=["test_softmax_loss"],
    ),
    dict(
        name="softmax_gradient_not_averaged",
        notebook=NB,
        cell="softmax_loss",
        replace=[("    dscores /= num_examples\n", "")],
        loses=["test_softmax_loss"],
    ),
    dict(
        name="affine_relu_backward_skips_the_relu",
        notebook=NB,
        cell="affine_relu",
        replace=[("da = relu_backward(dout, relu_cache)", "da = dout")],
        loses=["test_affine_relu"],
    ),
    dict(
        # The backward pass unpacks (fc_cache, relu_cache), so the order matters.
        name="affine_relu_caches_in_reverse_order",
        notebook=NB,
        cell="affine_relu",
        replace=[("cache = (fc_cache, relu_cache)", "cache = (relu_cache, fc_cache)")],
        loses=["test_affine_relu"],
    ),
    # --- 4. the two-layer network ---
    dict(
        name="two_layer_net_regularization_missing_from_gradient",
        notebook=NB,
        cell="two_layer_net",
        replace=[
            ('"W1": dW1 + self.reg * W1', '"W1": dW1'),
            ('"W2": dW2 + self.reg * W2', '"W2": dW2'),
        ],
        loses=["test_two_layer_net"],
    ),
    dict(
        # 02_linear's convention reg * sum(W ** 2) in the loss, with the gradient reg * W.
        name="two_layer_net_penalty_without_one_half",
        notebook=NB,
        cell="two_layer_net",
        replace=[("loss = data_loss + 0.5 * self.reg", "loss = data_loss + self.reg")],
        loses=["test_two_layer_net"],
    ),
    dict(
        name="two_layer_net_without_hidden_relu",
        notebook=NB,
        cell="two_layer_net",
        replace=[
            ("affine_relu_forward(X, W1, b1)", "affine_forward(X, W1, b1)"),
            ("affine_relu_backward(dhidden,", "affine_backward(dhidden,"),
        ],
        loses=["test_two_layer_net"],
    ),
    # --- features.ipynb ---
    dict(
        # np.histogram's last bin is closed: a pixel equal to hi (1.0) is counted there.
        name="color_histogram_drops_values_equal_to_hi",
        notebook=FEATURES,
        cell="color_histogram",
        replace=[("(values >= lo) & (values <= hi)", "(values >= lo) & (values < hi)")],
        loses=["test_color_histogram"],
    ),
    dict(
        # Fractions of the pixels inside value_range instead of all H * W pixels.
        name="color_histogram_fractions_of_pixels_in_range",
        notebook=FEATURES,
        cell="color_histogram",
        replace=[("minlength=nbin) / num_pixels)", "minlength=nbin) / max(len(values), 1))")],
        loses=["test_color_histogram"],
    ),
    dict(
        name="color_histogram_counts_instead_of_fractions",
        notebook=FEATURES,
        cell="color_histogram",
        replace=[("minlength=nbin) / num_pixels)", "minlength=nbin))")],
        loses=["test_color_histogram"],
    ),
    dict(
        # One long vector (N * F,) instead of a matrix (N, F).
        name="extract_features_concatenates_the_rows",
        notebook=FEATURES,
        cell="extract_features",
        replace=[("features = np.stack(rows)", "features = np.concatenate(rows)")],
        loses=["test_extract_features"],
    ),
    dict(
        # A number or an (H, C) array is joined unflattened.
        name="extract_features_without_flattening",
        notebook=FEATURES,
        cell="extract_features",
        replace=[("np.ravel(fn(image))", "fn(image)")],
        loses=["test_extract_features"],
    ),
    dict(
        name="normalize_features_val_and_test_with_their_own_statistics",
        notebook=FEATURES,
        cell="normalize_features",
        replace=[
            (
                "val_out = (val_features - mean) / scale",
                "val_out = (val_features - val_features.mean(axis=0)) / val_features.std(axis=0)",
            ),
            (
                "test_out = (test_features - mean) / scale",
                "test_out = (test_features - test_features.mean(axis=0))"
                " / test_features.std(axis=0)",
            ),
        ],
        loses=["test_normalize_features"],
    ),
    dict(
        name="normalize_features_one_std_for_all_features",
        notebook=FEATURES,
        cell="normalize_features",
        replace=[("std = train_features.std(axis=0)", "std = train_features.std()")],
        loses=["test_normalize_features"],
    ),
    dict(
        # A feature that is constant on the training set becomes 0 / 0 or x / 0.
        name="normalize_features_divides_constant_features_by_zero",
        notebook=FEATURES,
        cell="normalize_features",
        replace=[("scale = np.where(std > eps, std, 1.0)", "scale = std")],
        loses=["test_normalize_features"],
    ),
]
