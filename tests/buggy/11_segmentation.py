"""Plausible mistakes in 11_segmentation (semantic.ipynb; see README.md)."""

BUGS = [
    dict(
        name="softmax_over_the_last_axis",  # 02's (N, C) softmax copied onto (N, C, H, W)
        notebook="semantic.ipynb",
        cell="pixel_softmax_loss",
        replace=[("axis=1, keepdims=True", "axis=-1, keepdims=True")],
        loses=["test_pixel_softmax_loss"],
    ),
    dict(
        name="loss_mean_counts_ignored_pixels",
        notebook="semantic.ipynb",
        cell="pixel_softmax_loss",
        replace=[("total = pixel_weights.sum()", "total = weights[labels].sum()")],
        loses=["test_pixel_softmax_loss"],
    ),
    dict(
        name="class_weights_left_out_of_the_mean",  # sum of w_y (-log p_y) / number of pixels
        notebook="semantic.ipynb",
        cell="pixel_softmax_loss",
        replace=[("total = pixel_weights.sum()", "total = counted.sum()")],
        loses=["test_pixel_softmax_loss"],
    ),
    dict(
        name="nearest_backward_takes_one_pixel_of_each_block",
        notebook="semantic.ipynb",
        cell="upsample_nearest",
        replace=[
            (
                "dx = dout.reshape(N, C, H, scale, W, scale).sum(axis=(3, 5))",
                "dx = dout[:, :, ::scale, ::scale]",
            )
        ],
        loses=["test_upsample_nearest"],
    ),
    dict(
        name="unpool_transposes_the_plane",  # row and column of the flat index swapped
        notebook="semantic.ipynb",
        cell="max_unpool",
        replace=[("out = out.reshape(N, C, H, W)", "out = out.reshape(N, C, W, H).swapaxes(2, 3)")],
        loses=["test_max_unpool"],
    ),
    dict(
        name="transposed_conv_kernel_not_flipped",
        notebook="semantic.ipynb",
        cell="conv_transpose",
        replace=[
            (
                "    kernel = w[:, :, ::-1, ::-1]  # (C, F, HH, WW)\n",
                "    kernel = w  # (C, F, HH, WW)\n",
            )
        ],
        loses=["test_conv_transpose_forward"],
    ),
    dict(
        name="transposed_conv_zeros_after_the_input_not_between",  # stride on the wrong side
        notebook="semantic.ipynb",
        cell="conv_transpose",
        replace=[
            (
                "    spread[:, :, ::stride, ::stride] = x\n    # 2.",
                "    spread[:, :, :H, :W] = x\n    # 2.",
            )
        ],
        loses=["test_conv_transpose_forward"],
    ),
    dict(
        name="transposed_conv_backward_dw_flip_not_undone",
        notebook="semantic.ipynb",
        cell="conv_transpose",
        replace=[("dw = dkernel[:, :, ::-1, ::-1]", "dw = dkernel")],
        loses=["test_conv_transpose_backward"],
    ),
    dict(
        name="bilinear_kernel_centred_on_a_pixel_for_even_sizes",
        notebook="semantic.ipynb",
        cell="bilinear_kernel",
        replace=[
            (
                "centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5",
                "centre = factor - 1",
            )
        ],
        loses=["test_bilinear_kernel"],
    ),
    dict(
        name="confusion_matrix_rows_are_predictions",
        notebook="semantic.ipynb",
        cell="confusion_matrix",
        replace=[
            ("pairs = y_true * num_classes + y_pred", "pairs = y_pred * num_classes + y_true")
        ],
        loses=["test_confusion_matrix"],
    ),
    dict(
        name="absent_class_counted_as_iou_0",
        notebook="semantic.ipynb",
        cell="iou",
        replace=[("out=np.full(len(conf), np.nan)", "out=np.zeros(len(conf))")],
        loses=["test_per_class_iou"],
    ),
    dict(
        name="iou_union_without_subtracting_tp",
        notebook="semantic.ipynb",
        cell="iou",
        replace=[("conf.sum(axis=1) - tp  # TP + FP + FN", "conf.sum(axis=1)  # TP + FP + FN")],
        loses=["test_per_class_iou"],
    ),
    dict(
        name="miou_averaged_over_pixels",  # weighted by the pixels of each class
        notebook="semantic.ipynb",
        cell="iou",
        replace=[
            (
                "miou = float(iou[present].mean())",
                "miou = float(np.average(iou[present], weights=np.asarray(conf).sum(axis=1)"
                "[present]))",
            )
        ],
        loses=["test_mean_iou"],
    ),
    dict(
        name="unet_skips_start_at_the_bottom",  # the first skip is the bottom map itself
        notebook="semantic.ipynb",
        cell="unet_decode",
        replace=[("skips = features[-2::-1]", "skips = features[::-1]")],
        loses=["test_unet_decode"],
    ),
    dict(
        name="unet_skips_resized_to_the_decoder_scale",  # finest first, resized to fit
        notebook="semantic.ipynb",
        cell="unet_decode",
        replace=[
            ("skips = features[-2::-1]", "skips = features[:-1]"),
            (
                "y = block(torch.cat([skip, upsampled], dim=1))",
                "skip = torch.nn.functional.avg_pool2d(skip, skip.shape[-1] // upsampled.shape[-1])"
                " if skip.shape[-1] > upsampled.shape[-1] else skip\n"
                "        y = block(torch.cat([skip, upsampled], dim=1))",
            ),
        ],
        loses=["test_unet_decode"],
    ),
    dict(
        name="unet_concatenates_the_upsampled_map_first",
        notebook="semantic.ipynb",
        cell="unet_decode",
        replace=[("torch.cat([skip, upsampled], dim=1)", "torch.cat([upsampled, skip], dim=1)")],
        loses=["test_unet_decode"],
    ),
]

# instances.ipynb
BUGS += [
    dict(
        name="mask_target_box_not_shifted_to_pixel_centres",  # aligned=False RoI Align
        notebook="instances.ipynb",
        cell="mask_target",
        replace=[("x1, y1, x2, y2 = box - 0.5", "x1, y1, x2, y2 = box")],
        loses=["test_mask_target"],
    ),
    dict(
        name="paste_mask_reads_pixel_corners",  # u from j, not from the centre j + 0.5
        notebook="instances.ipynb",
        cell="paste_mask",
        replace=[
            ("u = (np.arange(W) + 0.5 - x1) / (x2 - x1)", "u = (np.arange(W) - x1) / (x2 - x1)"),
            ("v = (np.arange(H) + 0.5 - y1) / (y2 - y1)", "v = (np.arange(H) - y1) / (y2 - y1)"),
        ],
        loses=["test_paste_mask"],
    ),
    dict(
        name="mask_loss_gradient_divided_by_boxes_only",  # a mean over K, not over K S^2
        notebook="instances.ipynb",
        cell="mask_loss",
        replace=[("(sigmoid - targets) / picked.size", "(sigmoid - targets) / K")],
        loses=["test_mask_loss"],
    ),
    dict(
        name="prompt_point_read_as_row_column",  # (x, y) taken as (row, column)
        notebook="instances.ipynb",
        cell="encode_prompts",
        replace=[
            (
                "(cols[None, None, :] - points[:, 0, None, None])",
                "(cols[None, None, :] - points[:, 1, None, None])",
            ),
            (
                "(rows[None, :, None] - points[:, 1, None, None])",
                "(rows[None, :, None] - points[:, 0, None, None])",
            ),
        ],
        loses=["test_encode_prompts"],
    ),
    dict(
        name="mask_iou_union_counts_the_overlap_twice",
        notebook="instances.ipynb",
        cell="pairwise_mask_iou",
        replace=[("b.sum(axis=1)[None, :] - inter", "b.sum(axis=1)[None, :]")],
        loses=["test_pairwise_mask_iou"],
    ),
]
