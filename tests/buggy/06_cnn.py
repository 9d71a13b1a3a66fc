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
]
