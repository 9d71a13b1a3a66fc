"""Plausible student mistakes in solutions/04_training/; format in README.md."""

FC = "fully_connected.ipynb"
OPT = "optimizers.ipynb"

BUGS = [
    # --- fully_connected.ipynb: activations ---
    dict(
        name="sigmoid_backward_forgets_one_minus_s",
        notebook=FC,
        cell="sigmoid",
        replace=[("dx = dout * out * (1.0 - out)", "dx = dout * out")],
        loses=["test_sigmoid"],
    ),
    dict(
        # Right values for moderate x, but np.exp(1000) overflows for x = -1000.
        name="sigmoid_forward_overflows",
        notebook=FC,
        cell="sigmoid",
        replace=[
            (
                "out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                "out = 1.0 / (1.0 + np.exp(-x))",
            )
        ],
        loses=["test_sigmoid"],
    ),
    dict(
        name="tanh_backward_not_squared",
        notebook=FC,
        cell="tanh",
        replace=[("dx = dout * (1.0 - out * out)", "dx = dout * (1.0 - out)")],
        loses=["test_tanh"],
    ),
    dict(
        name="leaky_relu_backward_zero_for_negatives",
        notebook=FC,
        cell="leaky_relu",
        replace=[("np.where(x > 0, 1.0, alpha)", "np.where(x > 0, 1.0, 0.0)")],
        loses=["test_leaky_relu"],
    ),
    dict(
        name="leaky_relu_backward_right_derivative_at_zero",
        notebook=FC,
        cell="leaky_relu",
        replace=[("np.where(x > 0, 1.0, alpha)", "np.where(x >= 0, 1.0, alpha)")],
        loses=["test_leaky_relu"],
    ),
    dict(
        # ELU backward wrong for x <= 0: e^x instead of alpha e^x.
        name="elu_backward_forgets_alpha",
        notebook=FC,
        cell="elu",
        replace=[
            (
                "np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))",
                "np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))",
            )
        ],
        loses=["test_elu"],
    ),
    dict(
        # ELU backward wrong at x = 0: 1 instead of alpha.
        name="elu_backward_right_derivative_at_zero",
        notebook=FC,
        cell="elu",
        replace=[("local = np.where(x > 0, 1.0,", "local = np.where(x >= 0, 1.0,")],
        loses=["test_elu"],
    ),
    dict(
        # ELU backward wrong for x <= 0: the output instead of alpha e^x = out + alpha.
        name="elu_backward_uses_output",
        notebook=FC,
        cell="elu",
        replace=[
            (
                "local = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))",
                "local = np.where(x > 0, 1.0, alpha * (np.exp(np.minimum(x, 0)) - 1))",
            )
        ],
        loses=["test_elu"],
    ),
    # --- fully_connected.ipynb: preprocessing ---
    dict(
        name="normalize_by_one_global_std",
        notebook=FC,
        cell="center_normalize",
        replace=[("return zero_center(X) / X.std(axis=0)", "return zero_center(X) / X.std()")],
        loses=["test_center_normalize"],
    ),
    dict(
        name="pca_eigenvalues_in_increasing_order",
        notebook=FC,
        cell="pca_whiten",
        replace=[("    S, U = S[::-1], U[:, ::-1]  # largest first\n", "")],
        loses=["test_pca_whiten"],
    ),
    dict(
        name="pca_whiten_ignores_eps",
        notebook=FC,
        cell="pca_whiten",
        replace=[("X_white = X_rot / np.sqrt(S + eps)", "X_white = X_rot / np.sqrt(S)")],
        loses=["test_pca_whiten"],
    ),
    dict(
        name="pca_forgets_to_centre",
        notebook=FC,
        cell="pca_whiten",
        replace=[("X_centred = X - X.mean(axis=0)", "X_centred = X")],
        loses=["test_pca_whiten"],
    ),
    # --- fully_connected.ipynb: initialization ---
    dict(
        name="xavier_with_fan_out",
        notebook=FC,
        cell="init_weights",
        replace=[("std = 1.0 / np.sqrt(fan_in)", "std = 1.0 / np.sqrt(fan_out)")],
        loses=["test_init_weights"],
    ),
    dict(
        name="he_without_the_factor_two",
        notebook=FC,
        cell="init_weights",
        replace=[("std = np.sqrt(2.0 / fan_in)", "std = np.sqrt(1.0 / fan_in)")],
        loses=["test_init_weights"],
    ),
    dict(
        name="init_draws_from_global_random_state",
        notebook=FC,
        cell="init_weights",
        replace=[
            (
                "W = std * rng.standard_normal((fan_in, fan_out))",
                "W = std * np.random.randn(fan_in, fan_out)",
            )
        ],
        loses=["test_init_weights"],
    ),
    # --- fully_connected.ipynb: the network ---
    dict(
        name="fc_net_forgets_regularization_gradient",
        notebook=FC,
        cell="fc_net",
        replace=[
            (
                'grads[f"W{layer}"] += self.reg * self.params[f"W{layer}"]',
                'grads[f"W{layer}"] += 0.0',
            )
        ],
        loses=["test_fc_net"],
    ),
    dict(
        name="fc_net_penalty_without_one_half",
        notebook=FC,
        cell="fc_net",
        replace=[
            ("loss = data_loss + 0.5 * self.reg * penalty", "loss = data_loss + self.reg * penalty")
        ],
        loses=["test_fc_net"],
    ),
    dict(
        name="fc_net_backward_skips_the_activation",
        notebook=FC,
        cell="fc_net",
        replace=[("da = backward(dh, act_cache)", "da = dh")],
        loses=["test_fc_net"],
    ),
    dict(
        # Right shapes, but every layer is initialized with its fan_out.
        name="fc_net_init_with_swapped_fans",
        notebook=FC,
        cell="fc_net",
        replace=[
            (
                "W = init_weights(fan_in, fan_out, init, rng)",
                "W = init_weights(fan_out, fan_in, init, rng).T",
            )
        ],
        loses=["test_fc_net"],
    ),
    dict(
        # The public course's trap: 0.01 weights in five layers make the signal vanish.
        name="overfit_with_tiny_weights",
        notebook=FC,
        cell="overfit_config",
        replace=[("weight_scale=0.2)", "weight_scale=0.01)")],
        loses=["test_overfit_config"],
    ),
    # --- optimizers.ipynb ---
    dict(
        name="random_search_keeps_the_last_candidate",
        notebook=OPT,
        cell="random_search",
        replace=[("if loss < best_loss:", "if True:")],
        loses=["test_random_search"],
    ),
    dict(
        name="random_search_draws_from_global_random_state",
        notebook=OPT,
        cell="random_search",
        replace=[("W = scale * rng.standard_normal(shape)", "W = scale * np.random.randn(*shape)")],
        loses=["test_random_search"],
    ),
    dict(
        name="momentum_sign_flipped",
        notebook=OPT,
        cell="sgd_momentum",
        replace=[
            (
                'v = config["momentum"] * v - config["learning_rate"] * dw',
                'v = config["momentum"] * v + config["learning_rate"] * dw',
            )
        ],
        loses=["test_sgd_momentum"],
    ),
    dict(
        # The velocity keeps -momentum of itself: it flips sign every step.
        name="momentum_decays_with_the_wrong_sign",
        notebook=OPT,
        cell="sgd_momentum",
        replace=[('v = config["momentum"] * v', 'v = -config["momentum"] * v')],
        loses=["test_sgd_momentum"],
    ),
    dict(
        name="adagrad_without_epsilon",
        notebook=OPT,
        cell="adagrad",
        replace=[('(np.sqrt(cache) + config["epsilon"])', "np.sqrt(cache)")],
        loses=["test_adagrad"],
    ),
    dict(
        name="adagrad_accumulates_the_gradient_not_its_square",
        notebook=OPT,
        cell="adagrad",
        replace=[("cache = cache + dw**2", "cache = cache + dw")],
        loses=["test_adagrad"],
    ),
    dict(
        name="rmsprop_without_the_leak_weight",
        notebook=OPT,
        cell="rmsprop",
        replace=[("cache = decay * cache + (1 - decay) * dw**2", "cache = decay * cache + dw**2")],
        loses=["test_rmsprop"],
    ),
    dict(
        name="adam_without_bias_correction",
        notebook=OPT,
        cell="adam",
        replace=[
            ("m_hat = m / (1 - beta1**t)", "m_hat = m"),
            ("v_hat = v / (1 - beta2**t)", "v_hat = v"),
        ],
        loses=["test_adam"],
    ),
    dict(
        # t incremented after its use: the first correction divides by 1 - beta^0 = 0.
        name="adam_increments_t_after_use",
        notebook=OPT,
        cell="adam",
        replace=[
            ("    t = t + 1\n", ""),
            (
                '(np.sqrt(v_hat) + config["epsilon"])\n',
                '(np.sqrt(v_hat) + config["epsilon"])\n    t = t + 1\n',
            ),
        ],
        loses=["test_adam"],
    ),
    dict(
        name="adam_second_moment_of_the_gradient_not_its_square",
        notebook=OPT,
        cell="adam",
        replace=[("v = beta2 * v + (1 - beta2) * dw**2", "v = beta2 * v + (1 - beta2) * dw")],
        loses=["test_adam"],
    ),
]
