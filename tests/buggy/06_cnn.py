"""Plausible student mistakes in solutions/06_cnn/; format in README.md."""

BUGS = [
    dict(
        # Convolution instead of cross-correlation: the layer flips its filters.
        name="conv_layer_flips_the_kernel",
        notebook="convolution.ipynb",
        cell="conv_forward_naive",
        replace=[("np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])")],
        loses=["test_conv_forward_naive"],
    ),
    dict(
        # np.pad with a single width pads every axis, the channel axis (and N) included.
        name="conv_pads_the_channel_axis",
        notebook="convolution.ipynb",
        cell="conv_forward_naive",
        replace=[("np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))", "np.pad(x, pad)")],
        loses=["test_conv_forward_naive"],
    ),
    dict(
        name="conv_forward_without_size_check",
        notebook="convolution.ipynb",
        cell="conv_forward_naive",
        replace=[
            (
                "if (H - HH + 2 * pad) % stride or (W - WW + 2 * pad) % stride:",
                "if False:",
            )
        ],
        loses=["test_conv_forward_naive"],
    ),
    dict(
        name="conv_backward_ignores_stride",
        notebook="convolution.ipynb",
        cell="conv_backward_naive",
        replace=[("top, left = i * stride, j * stride", "top, left = i, j")],
        loses=["test_conv_backward_naive"],
    ),
    dict(
        # Overlapping windows overwrite instead of adding up.
        name="conv_backward_assigns_instead_of_adding",
        notebook="convolution.ipynb",
        cell="conv_backward_naive",
        replace=[("dx_pad[window] += dout", "dx_pad[window] = dout")],
        loses=["test_conv_backward_naive"],
    ),
    dict(
        name="conv1d_without_flip",
        notebook="convolution.ipynb",
        cell="conv1d",
        replace=[("x[n + K - 1 - k]", "x[n + k]")],
        loses=["test_conv1d"],
    ),
    dict(
        name="conv2d_flips_one_axis_only",
        notebook="convolution.ipynb",
        cell="conv2d",
        replace=[("flipped = w[::-1, ::-1]", "flipped = w[::-1, :]")],
        loses=["test_conv2d"],
    ),
    dict(
        name="conv3d_without_flip",
        notebook="convolution.ipynb",
        cell="conv3d",
        replace=[("flipped = w[::-1, ::-1, ::-1]", "flipped = w")],
        loses=["test_conv3d"],
    ),
    dict(
        name="max_pool_backward_routes_to_every_element",
        notebook="convolution.ipynb",
        cell="max_pool_backward_naive",
        replace=[
            (
                "mask = window == window.max(axis=(2, 3), keepdims=True)",
                "mask = np.ones_like(window)",
            )
        ],
        loses=["test_max_pool_backward_naive"],
    ),
    dict(
        name="max_pool_forward_ignores_stride",
        notebook="convolution.ipynb",
        cell="max_pool_forward_naive",
        replace=[
            ("i * stride : i * stride + pool_h", "i : i + pool_h"),
            ("j * stride : j * stride + pool_w", "j : j + pool_w"),
        ],
        loses=["test_max_pool_forward_naive"],
    ),
    dict(
        name="avg_pool_forward_takes_the_sum",
        notebook="convolution.ipynb",
        cell="avg_pool_forward_naive",
        replace=[("window.mean(axis=(2, 3))", "window.sum(axis=(2, 3))")],
        loses=["test_avg_pool_forward_naive"],
    ),
    dict(
        name="avg_pool_backward_without_division",
        notebook="convolution.ipynb",
        cell="avg_pool_backward_naive",
        replace=[("share = dout / (pool_h * pool_w)", "share = dout")],
        loses=["test_avg_pool_backward_naive"],
    ),
    dict(
        # Rows come out ordered (n, c, ...) instead of matching w.reshape(F, -1).
        name="im2col_wrong_column_order",
        notebook="convolution.ipynb",
        cell="im2col",
        replace=[("patches.transpose(0, 4, 5, 1, 2, 3)", "patches.transpose(0, 4, 5, 2, 3, 1)")],
        loses=["test_im2col"],
    ),
    dict(
        name="col2im_assigns_instead_of_adding",
        notebook="convolution.ipynb",
        cell="col2im",
        replace=[("] += patches[:, :, a, b]", "] = patches[:, :, a, b]")],
        loses=["test_col2im"],
    ),
    dict(
        # Reshapes (N H' W', F) straight to (N, F, H', W'): numbers land in wrong places.
        name="conv_im2col_reshape_without_transpose",
        notebook="convolution.ipynb",
        cell="conv_forward_im2col",
        replace=[
            (
                "out = out.reshape(N, out_h, out_w, F).transpose(0, 3, 1, 2)",
                "out = out.reshape(N, F, out_h, out_w)",
            )
        ],
        loses=["test_conv_forward_im2col"],
    ),
    dict(
        name="conv_im2col_backward_reshapes_dout_without_transpose",
        notebook="convolution.ipynb",
        cell="conv_backward_im2col",
        replace=[("dout.transpose(0, 2, 3, 1).reshape(-1, F)", "dout.reshape(-1, F)")],
        loses=["test_conv_backward_im2col"],
    ),
    dict(
        # reshape(-1, C) without moving the channel axis last mixes channels and positions.
        name="spatial_batchnorm_reshape_without_transpose",
        notebook="cnn.ipynb",
        cell="spatial_batchnorm_forward",
        replace=[
            (
                "rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
                "rows = x.reshape(N * H * W, C)",
            ),
            (
                "out = rows_out.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
                "out = rows_out.reshape(N, C, H, W)",
            ),
        ],
        loses=["test_spatial_batchnorm_forward"],
    ),
    dict(
        name="spatial_batchnorm_backward_reshape_without_transpose",
        notebook="cnn.ipynb",
        cell="spatial_batchnorm_backward",
        replace=[
            (
                "drows = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
                "drows = dout.reshape(N * H * W, C)",
            ),
            (
                "dx = drows_x.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
                "dx = drows_x.reshape(N, C, H, W)",
            ),
        ],
        loses=["test_spatial_batchnorm_backward"],
    ),
    dict(
        name="convnet_without_regularization_gradient",
        notebook="cnn.ipynb",
        cell="ThreeLayerConvNet",
        replace=[("grads[name] = grads[name] + self.reg * W", "grads[name] = grads[name]")],
        loses=["test_ThreeLayerConvNet"],
    ),
    dict(
        # Channel c lands in group c % G (a reshape to (N, C/G, G, ...)), not in c // (C/G).
        name="groupnorm_groups_strided_channels",
        notebook="cnn.ipynb",
        cell="spatial_groupnorm_forward",
        replace=[
            (
                "groups = x.reshape(N, G, -1)",
                "groups = x.reshape(N, C // G, G, H * W).swapaxes(1, 2).reshape(N, G, -1)",
            ),
            (
                "out = gamma * x_hat.reshape(N, C, H, W) + beta",
                "out = gamma * x_hat.reshape(N, G, C // G, H * W).swapaxes(1, 2).reshape("
                "N, C, H, W) + beta",
            ),
        ],
        loses=["test_spatial_groupnorm_forward"],
    ),
    dict(
        # One mean and variance per group over the whole batch: batch norm of groups.
        name="groupnorm_statistics_over_the_batch",
        notebook="cnn.ipynb",
        cell="spatial_groupnorm_forward",
        replace=[
            (
                "mean, var = groups.mean(axis=2), groups.var(axis=2)",
                "mean = np.broadcast_to(groups.mean(axis=(0, 2)), (N, G))\n"
                "    var = np.broadcast_to(groups.var(axis=(0, 2)), (N, G))",
            )
        ],
        loses=["test_spatial_groupnorm_forward"],
    ),
    dict(
        name="groupnorm_eps_outside_the_root",
        notebook="cnn.ipynb",
        cell="spatial_groupnorm_forward",
        replace=[("np.sqrt(var[:, :, None] + eps)", "(np.sqrt(var[:, :, None]) + eps)")],
        loses=["test_spatial_groupnorm_forward"],
    ),
    dict(
        # dx without the path through the group's variance.
        name="groupnorm_backward_without_variance_term",
        notebook="cnn.ipynb",
        cell="spatial_groupnorm_backward",
        replace=[
            (
                "dx = inv_std * (dx_hat - dx_hat.mean(axis=2, keepdims=True)\n"
                "                    - x_hat * (dx_hat * x_hat).mean(axis=2, keepdims=True))",
                "dx = inv_std * (dx_hat - dx_hat.mean(axis=2, keepdims=True))",
            )
        ],
        loses=["test_spatial_groupnorm_backward"],
    ),
    dict(
        name="groupnorm_backward_forgets_gamma",
        notebook="cnn.ipynb",
        cell="spatial_groupnorm_backward",
        replace=[("dx_hat = (dout * gamma).reshape(N, G, -1)", "dx_hat = dout.reshape(N, G, -1)")],
        loses=["test_spatial_groupnorm_backward"],
    ),
    dict(
        # The variance 2 / fan_in used as the standard deviation.
        name="he_init_without_square_root",
        notebook="cnn.ipynb",
        cell="FiveLayerConvNet",
        replace=[
            (
                'std = np.sqrt(2.0 / fan_in) if weight_scale == "he" else weight_scale',
                'std = 2.0 / fan_in if weight_scale == "he" else weight_scale',
            )
        ],
        loses=["test_FiveLayerConvNet"],
    ),
    dict(
        # fan_in of a conv layer taken as its number of input channels, without the 3 x 3.
        name="he_init_conv_fan_in_without_filter_area",
        notebook="cnn.ipynb",
        cell="FiveLayerConvNet",
        replace=[
            (
                "fan_in = int(np.prod(shape[1:])) if is_conv else shape[0]",
                "fan_in = shape[1] if is_conv else shape[0]",
            )
        ],
        loses=["test_FiveLayerConvNet"],
    ),
    dict(
        name="five_layer_net_does_not_regularize_the_affine_layer",
        notebook="cnn.ipynb",
        cell="FiveLayerConvNet",
        replace=[
            (
                'weights = [p[f"W{i}"] for i in range(1, 6)]',
                'weights = [p[f"W{i}"] for i in range(1, 5)]',
            )
        ],
        loses=["test_FiveLayerConvNet"],
    ),
]
