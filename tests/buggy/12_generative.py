"""Plausible mistakes in 12_generative (see README.md)."""

BUGS = [
    # --- autoregressive.ipynb (entries below this line, above the vae marker) ---
    dict(
        name="mask_a_and_b_swapped",  # the first layer sees the centre: it copies x_i
        notebook="autoregressive.ipynb",
        cell="pixelcnn_mask",
        replace=[('if mask_type == "B":', 'if mask_type == "A":')],
        loses=["test_pixelcnn_mask", "test_causal_stack"],
    ),
    dict(
        name="mask_keeps_the_upper_left_quadrant_only",  # causal, but blind to up-right pixels
        notebook="autoregressive.ipynb",
        cell="pixelcnn_mask",
        replace=[("spatial[:centre_h, :] = 1.0", "spatial[:centre_h, : centre_w + 1] = 1.0")],
        loses=["test_pixelcnn_mask"],
    ),
    dict(
        name="mask_in_column_order",  # columns left of the centre, then above it: not raster
        notebook="autoregressive.ipynb",
        cell="pixelcnn_mask",
        replace=[
            ("spatial[:centre_h, :] = 1.0", "spatial[:, :centre_w] = 1.0"),
            ("spatial[centre_h, :centre_w] = 1.0", "spatial[:centre_h, centre_w] = 1.0"),
        ],
        loses=["test_pixelcnn_mask", "test_causal_stack"],
    ),
    dict(
        name="masked_conv_backward_dw_not_masked",  # masked weights would drift in training
        notebook="autoregressive.ipynb",
        cell="masked_conv",
        replace=[("    dw = dw * mask  # the gradient", "    dw = dw  # the gradient")],
        loses=["test_masked_conv_backward"],
    ),
    dict(
        name="nll_in_nats_not_bits",
        notebook="autoregressive.ipynb",
        cell="bernoulli_nll_bits",
        replace=[
            ("loss = float(nats.mean() / np.log(2.0))", "loss = float(nats.mean())"),
            (
                "dlogits = (probs - x) / (logits.size * np.log(2.0))",
                "dlogits = (probs - x) / logits.size",
            ),
        ],
        loses=["test_bernoulli_nll_bits"],
    ),
    dict(
        name="nll_mean_over_images_not_dimensions",  # bits per image, not per pixel
        notebook="autoregressive.ipynb",
        cell="bernoulli_nll_bits",
        replace=[
            (
                "loss = float(nats.mean() / np.log(2.0))",
                "loss = float(nats.sum() / len(logits) / np.log(2.0))",
            ),
            (
                "dlogits = (probs - x) / (logits.size * np.log(2.0))",
                "dlogits = (probs - x) / (len(logits) * np.log(2.0))",
            ),
        ],
        loses=["test_bernoulli_nll_bits"],
    ),
    dict(
        name="nll_overflows_for_confident_logits",  # log(1 + e^s) computed as written
        notebook="autoregressive.ipynb",
        cell="bernoulli_nll_bits",
        replace=[
            (
                "nats = np.maximum(logits, 0.0) - x * logits + np.log1p(np.exp(-np.abs(logits)))",
                "nats = np.log(1.0 + np.exp(logits)) - x * logits",
            ),
        ],
        loses=["test_bernoulli_nll_bits"],
    ),
    # --- vae.ipynb (entries below this line) ---
    dict(
        name="kl_with_the_wrong_sign",  # -KL: the loss would reward codes far from the prior
        notebook="vae.ipynb",
        cell="gaussian_kl",
        replace=[("kl = 0.5 * np.sum(", "kl = -0.5 * np.sum(")],
        loses=["test_gaussian_kl_forward"],
    ),
    dict(
        name="kl_reads_logvar_as_log_sigma",  # sigma^2 = exp(2 logvar), log sigma^2 = 2 logvar
        notebook="vae.ipynb",
        cell="gaussian_kl",
        replace=[
            ("var = np.exp(logvar)  # sigma^2", "var = np.exp(2 * logvar)  # sigma^2"),
            ("- 1.0 - logvar, axis=1)", "- 1.0 - 2 * logvar, axis=1)"),
        ],
        loses=["test_gaussian_kl_forward"],
    ),
    dict(
        name="kl_backward_derivative_with_respect_to_sigma",  # d/dsigma^2 = 0.5 (1 - 1/sigma^2)
        notebook="vae.ipynb",
        cell="gaussian_kl",
        replace=[
            (
                "dlogvar = dout[:, None] * 0.5 * (np.exp(logvar) - 1.0)",
                "dlogvar = dout[:, None] * 0.5 * (1.0 - np.exp(-logvar))",
            )
        ],
        loses=["test_gaussian_kl_backward"],
    ),
    dict(
        name="reparametrize_std_is_exp_logvar",  # log sigma where log sigma^2 is meant
        notebook="vae.ipynb",
        cell="reparametrize",
        replace=[("std = torch.exp(0.5 * logvar)", "std = torch.exp(logvar)")],
        loses=["test_reparametrize"],
    ),
    dict(
        name="reparametrize_samples_outside_the_graph",  # z drawn directly: no gradient to mu
        notebook="vae.ipynb",
        cell="reparametrize",
        replace=[("z = mu + std * eps", "z = torch.normal(mu.detach(), std.detach())")],
        loses=["test_reparametrize"],
    ),
    dict(
        name="reparametrize_under_no_grad",
        notebook="vae.ipynb",
        cell="reparametrize",
        replace=[
            ("    z = mu + std * eps", "    with torch.no_grad():\n        z = mu + std * eps")
        ],
        loses=["test_reparametrize"],
    ),
    dict(
        name="reparametrize_one_eps_per_row",  # the same noise in every latent dimension
        notebook="vae.ipynb",
        cell="reparametrize",
        replace=[("eps = torch.randn_like(mu)", "eps = torch.randn_like(mu[:, :1])")],
        loses=["test_reparametrize"],
    ),
    dict(
        name="loss_averaged_over_pixels",  # reconstruction divided by D against the KL
        notebook="vae.ipynb",
        cell="loss_function",
        replace=[('reduction="sum")', 'reduction="mean")')],
        loses=["test_loss_function"],
    ),
    dict(
        name="loss_kl_mean_over_latent_dims",
        notebook="vae.ipynb",
        cell="loss_function",
        replace=[
            (
                "kl = -0.5 * torch.sum(1.0 + logvar - mu**2 - torch.exp(logvar))",
                "kl = -0.5 * torch.mean(1.0 + logvar - mu**2 - torch.exp(logvar), dim=1).sum()",
            )
        ],
        loses=["test_loss_function"],
    ),
    dict(
        name="loss_kl_with_the_wrong_sign",
        notebook="vae.ipynb",
        cell="loss_function",
        replace=[("loss = (reconstruction + kl) / N", "loss = (reconstruction - kl) / N")],
        loses=["test_loss_function"],
    ),
    dict(
        name="loss_summed_over_the_batch",  # not divided by N: scales with the batch size
        notebook="vae.ipynb",
        cell="loss_function",
        replace=[("loss = (reconstruction + kl) / N", "loss = reconstruction + kl")],
        loses=["test_loss_function"],
    ),
]
