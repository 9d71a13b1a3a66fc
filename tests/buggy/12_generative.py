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
    # --- gan.ipynb (entries below this line, above the diffusion marker) ---
    dict(
        name="generator_saturating_when_non_saturating_asked",  # log(1 - D): no gradient at D ~ 0
        notebook="gan.ipynb",
        cell="generator_loss",
        replace=[
            (
                "loss = bce_loss(logits_fake, torch.ones_like(logits_fake))",
                "loss = -bce_loss(logits_fake, torch.zeros_like(logits_fake))",
            )
        ],
        loses=["test_generator_loss"],
    ),
    dict(
        name="discriminator_loss_labels_swapped",  # real data against 0, fakes against 1
        notebook="gan.ipynb",
        cell="discriminator_loss",
        replace=[
            (
                "real_term = bce_loss(logits_real, torch.ones_like(logits_real))",
                "real_term = bce_loss(logits_real, torch.zeros_like(logits_real))",
            ),
            (
                "fake_term = bce_loss(logits_fake, torch.zeros_like(logits_fake))",
                "fake_term = bce_loss(logits_fake, torch.ones_like(logits_fake))",
            ),
        ],
        loses=["test_discriminator_loss"],
    ),
    dict(
        name="discriminator_loss_one_mean_over_both_batches",  # half the loss at equal sizes
        notebook="gan.ipynb",
        cell="discriminator_loss",
        replace=[
            (
                "loss = real_term + fake_term",
                "loss = bce_loss(torch.cat([logits_real, logits_fake]), torch.cat("
                "[torch.ones_like(logits_real), torch.zeros_like(logits_fake)]))",
            )
        ],
        loses=["test_discriminator_loss"],
    ),
    dict(
        name="bce_on_probabilities_applied_to_logits",  # log of a logit: nan for s < 0
        notebook="gan.ipynb",
        cell="bce_loss",
        replace=[
            (
                "loss = input.clamp(min=0) - input * target + torch.log1p(torch.exp(-input.abs()))",
                "loss = -(target * torch.log(input) + (1 - target) * torch.log(1 - input))",
            )
        ],
        loses=[
            "test_bce_loss",
            "test_discriminator_loss",
            "test_generator_loss",
            "test_saturating_generator_loss",
        ],
    ),
    dict(
        name="bce_through_sigmoid_overflows",  # log(1 - sigmoid(100)) = log(0)
        notebook="gan.ipynb",
        cell="bce_loss",
        replace=[
            (
                "loss = input.clamp(min=0) - input * target + torch.log1p(torch.exp(-input.abs()))",
                "loss = -(target * torch.log(torch.sigmoid(input))"
                " + (1 - target) * torch.log(1 - torch.sigmoid(input)))",
            )
        ],
        loses=[
            "test_bce_loss",
            "test_discriminator_loss",
            "test_generator_loss",
            "test_saturating_generator_loss",
        ],
    ),
    dict(
        name="saturating_generator_loss_wrong_sign",  # BCE(fake, 0): the discriminator's term
        notebook="gan.ipynb",
        cell="saturating_generator_loss",
        replace=[
            (
                "loss = -bce_loss(logits_fake, torch.zeros_like(logits_fake))",
                "loss = bce_loss(logits_fake, torch.zeros_like(logits_fake))",
            )
        ],
        loses=["test_saturating_generator_loss"],
    ),
    dict(
        name="ls_discriminator_loss_summed_not_averaged",
        notebook="gan.ipynb",
        cell="ls_losses",
        replace=[
            (
                "loss = 0.5 * torch.mean((scores_real - 1) ** 2)"
                " + 0.5 * torch.mean(scores_fake**2)",
                "loss = 0.5 * torch.sum((scores_real - 1) ** 2) + 0.5 * torch.sum(scores_fake**2)",
            )
        ],
        loses=["test_ls_discriminator_loss"],
    ),
    dict(
        name="ls_generator_loss_target_zero",  # the discriminator's target for fakes
        notebook="gan.ipynb",
        cell="ls_losses",
        replace=[
            (
                "loss = 0.5 * torch.mean((scores_fake - 1) ** 2)",
                "loss = 0.5 * torch.mean(scores_fake**2)",
            )
        ],
        loses=["test_ls_generator_loss"],
    ),
    # --- diffusion.ipynb (entries below this line) ---
    # q_sample's bugs also lose the loss's cell: noise_prediction_loss noises with q_sample.
    dict(
        name="q_sample_with_alpha_t_not_alphabar_t",  # one step's signal, not the product
        notebook="diffusion.ipynb",
        cell="q_sample",
        replace=[
            (
                'alphabar = schedule["alphas_cumprod"][t]  # (N,)',
                'alphabar = schedule["alphas"][t]  # (N,)',
            )
        ],
        loses=["test_q_sample", "test_noise_prediction_loss"],
    ),
    dict(
        name="q_sample_without_square_roots",  # weights alphabar and 1 - alphabar: variance < 1
        notebook="diffusion.ipynb",
        cell="q_sample",
        replace=[
            (
                "x_t = torch.sqrt(alphabar) * x_start + torch.sqrt(1.0 - alphabar) * noise",
                "x_t = alphabar * x_start + (1.0 - alphabar) * noise",
            )
        ],
        loses=["test_q_sample", "test_noise_prediction_loss"],
    ),
    dict(
        name="q_sample_step_off_by_one",  # steps counted from 1: t = 0 reads the last entry
        notebook="diffusion.ipynb",
        cell="q_sample",
        replace=[
            ('schedule["alphas_cumprod"][t]  # (N,)', 'schedule["alphas_cumprod"][t - 1]  # (N,)')
        ],
        loses=["test_q_sample", "test_noise_prediction_loss"],
    ),
    dict(
        name="loss_against_x_start_not_the_noise",
        notebook="diffusion.ipynb",
        cell="noise_prediction_loss",
        replace=[("loss = F.mse_loss(predicted, noise)", "loss = F.mse_loss(predicted, x_start)")],
        loses=["test_noise_prediction_loss"],
    ),
    dict(
        name="p_sample_previous_alphabar_off_by_one",  # alphabar_t for alphabar_(t-1): beta_t
        notebook="diffusion.ipynb",
        cell="p_sample",
        replace=[
            (
                'alphabar_prev = schedule["alphas_cumprod"][t - 1]',
                'alphabar_prev = schedule["alphas_cumprod"][t]',
            )
        ],
        loses=["test_p_sample"],
    ),
    dict(
        name="p_sample_adds_noise_at_the_last_step",  # and reads alphabar_(-1) as the last one
        notebook="diffusion.ipynb",
        cell="p_sample",
        replace=[("    if t == 0:\n        return mean\n", "")],
        loses=["test_p_sample"],
    ),
    dict(
        name="guidance_with_cond_and_uncond_swapped",  # pushes away from the label
        notebook="diffusion.ipynb",
        cell="guided_eps",
        replace=[
            (
                "eps = (1.0 + guidance_scale) * eps_cond - guidance_scale * eps_uncond",
                "eps = (1.0 + guidance_scale) * eps_uncond - guidance_scale * eps_cond",
            )
        ],
        loses=["test_guided_eps"],
    ),
    dict(
        name="guidance_scale_read_as_s_not_w",  # eps_u + w (eps_c - eps_u): w = 0 unconditional
        notebook="diffusion.ipynb",
        cell="guided_eps",
        replace=[
            (
                "eps = (1.0 + guidance_scale) * eps_cond - guidance_scale * eps_uncond",
                "eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)",
            )
        ],
        loses=["test_guided_eps"],
    ),
]
