"""Plausible mistakes in 10_detection (boxes.ipynb and detectors.ipynb; see README.md)."""

BUGS = [
    dict(
        name="iou_without_clipping",  # disjoint boxes get a negative (or positive) overlap
        notebook="boxes.ipynb",
        cell="box_iou",
        replace=[("np.clip(bottom_right - top_left, 0.0, None)", "(bottom_right - top_left)")],
        loses=["test_box_iou"],
    ),
    dict(
        name="union_without_subtracting_intersection",
        notebook="boxes.ipynb",
        cell="box_iou",
        replace=[("box_area(boxes2)[None, :] - inter", "box_area(boxes2)[None, :]")],
        loses=["test_box_iou"],
    ),
    dict(
        name="nms_keeps_lowest_score",
        notebook="boxes.ipynb",
        cell="nms",
        replace=[('np.argsort(-scores, kind="stable")', 'np.argsort(scores, kind="stable")')],
        loses=["test_nms"],
    ),
    dict(
        name="nms_drops_iou_equal_to_threshold",
        notebook="boxes.ipynb",
        cell="nms",
        replace=[("overlap <= iou_threshold", "overlap < iou_threshold")],
        loses=["test_nms"],
    ),
    dict(
        name="class_aware_nms_suppresses_across_classes",
        notebook="boxes.ipynb",
        cell="batched_nms",
        replace=[
            (
                "### BEGIN SOLUTION\n",
                "### BEGIN SOLUTION\n    return nms(boxes, scores, iou_threshold)\n",
            )
        ],
        loses=["test_batched_nms"],
    ),
    dict(
        name="second_match_of_a_true_box_is_a_true_positive",
        notebook="boxes.ipynb",
        cell="match_detections",
        replace=[("np.where(taken, -1.0, ious[p])", "ious[p]")],
        loses=["test_match_detections"],
    ),
    dict(
        name="matching_in_input_order",
        notebook="boxes.ipynb",
        cell="match_detections",
        replace=[('for p in np.argsort(-scores, kind="stable"):', "for p in range(len(boxes)):")],
        loses=["test_match_detections"],
    ),
    dict(
        name="ap_without_monotone_envelope",
        notebook="boxes.ipynb",
        cell="average_precision",
        replace=[
            ("envelope = np.maximum.accumulate(precision[::-1])[::-1]", "envelope = precision")
        ],
        loses=["test_average_precision"],
    ),
    dict(
        name="coco_ap_at_100_recall_points",
        notebook="boxes.ipynb",
        cell="average_precision",
        replace=[("np.linspace(0.0, 1.0, 101)", "np.linspace(0.0, 1.0, 100)")],
        loses=["test_average_precision"],
    ),
    dict(
        name="encode_without_log",
        notebook="boxes.ipynb",
        cell="box_coding",
        replace=[("np.log(w / wa), np.log(h / ha)", "w / wa, h / ha")],
        loses=["test_encode_boxes"],
    ),
    dict(
        name="decode_without_exp",
        notebook="boxes.ipynb",
        cell="box_coding",
        replace=[
            (
                "wa * np.exp(deltas[:, 2]), ha * np.exp(deltas[:, 3])",
                "wa * deltas[:, 2], ha * deltas[:, 3]",
            )
        ],
        loses=["test_decode_boxes"],
    ),
    dict(
        name="smooth_l1_branches_swapped",
        notebook="boxes.ipynb",
        cell="smooth_l1",
        replace=[
            (
                "np.where(small, 0.5 * d**2 / beta, np.abs(d) - 0.5 * beta)",
                "np.where(small, np.abs(d) - 0.5 * beta, 0.5 * d**2 / beta)",
            )
        ],
        loses=["test_smooth_l1_forward"],
    ),
    dict(
        name="smooth_l1_mean_instead_of_sum",
        notebook="boxes.ipynb",
        cell="smooth_l1",
        replace=[("float(np.sum(", "float(np.mean(")],
        loses=["test_smooth_l1_forward"],
    ),
    dict(
        name="smooth_l1_backward_branches_swapped",
        notebook="boxes.ipynb",
        cell="smooth_l1",
        replace=[
            (
                "np.where(np.abs(d) < beta, d / beta, np.sign(d))",
                "np.where(np.abs(d) < beta, np.sign(d), d / beta)",
            )
        ],
        loses=["test_smooth_l1_backward"],
    ),
    dict(
        name="smooth_l1_backward_without_beta",
        notebook="boxes.ipynb",
        cell="smooth_l1",
        replace=[("d / beta, np.sign(d)", "d, np.sign(d)")],
        loses=["test_smooth_l1_backward"],
    ),
    # detectors.ipynb: RoI pooling and RoI Align.
    dict(
        name="roi_pool_without_spatial_scale",  # RoIs stay in image pixels on the feature map
        notebook="detectors.ipynb",
        cell="roi_pool_forward",
        replace=[("corners = rois[:, 1:] * spatial_scale", "corners = rois[:, 1:]")],
        loses=["test_roi_pool_forward"],
    ),
    dict(
        name="roi_pool_divides_by_spatial_scale",  # the stride instead of its inverse
        notebook="detectors.ipynb",
        cell="roi_pool_forward",
        replace=[("rois[:, 1:] * spatial_scale", "rois[:, 1:] / spatial_scale")],
        loses=["test_roi_pool_forward"],
    ),
    dict(
        name="roi_pool_rounds_halves_to_even",  # np.round: 2.5 -> 2
        notebook="detectors.ipynb",
        cell="roi_pool_forward",
        replace=[("np.sign(corners) * np.floor(np.abs(corners) + 0.5)", "np.round(corners)")],
        loses=["test_roi_pool_forward"],
    ),
    dict(
        name="roi_pool_without_the_last_cell",  # x2 taken as exclusive
        notebook="detectors.ipynb",
        cell="roi_pool_forward",
        replace=[
            (
                "np.maximum(x2 - x1 + 1, 1), np.maximum(y2 - y1 + 1, 1)",
                "np.maximum(x2 - x1, 1), np.maximum(y2 - y1, 1)",
            )
        ],
        loses=["test_roi_pool_forward"],
    ),
    dict(
        name="roi_pool_backward_to_every_cell_of_the_bin",
        notebook="detectors.ipynb",
        cell="roi_pool_backward",
        replace=[
            (
                "dx[batch[k], np.arange(C), r0 + rows, c0 + cols] += dout[k, :, i, j]",
                "dx[batch[k], :, r0:r1, c0:c1] += dout[k, :, i, j, None, None]",
            )
        ],
        loses=["test_roi_pool_backward"],
    ),
    dict(
        name="roi_pool_backward_overwrites_shared_cells",  # = instead of +=
        notebook="detectors.ipynb",
        cell="roi_pool_backward",
        replace=[("c0 + cols] += dout[k, :, i, j]", "c0 + cols] = dout[k, :, i, j]")],
        loses=["test_roi_pool_backward"],
    ),
    dict(
        name="roi_align_samples_at_rounded_coordinates",  # nearest neighbour, not bilinear
        notebook="detectors.ipynb",
        cell="roi_align_forward",
        replace=[
            ("pos = np.clip(pos, 0.0, size - 1)", "pos = np.clip(np.round(pos), 0.0, size - 1)")
        ],
        loses=["test_roi_align_forward"],
    ),
    dict(
        name="roi_align_without_the_half_cell_offset",  # aligned=True acts as aligned=False
        notebook="detectors.ipynb",
        cell="roi_align_forward",
        replace=[("(0.5 if aligned else 0.0)", "0.0")],
        loses=["test_roi_align_forward"],
    ),
    dict(
        name="roi_align_sums_the_samples",  # no division by sampling_ratio
        notebook="detectors.ipynb",
        cell="roi_align_forward",
        replace=[("    weights /= sampling_ratio\n", "")],
        loses=["test_roi_align_forward"],
    ),
    dict(
        name="roi_align_backward_overwrites_other_rois",  # = instead of +=
        notebook="detectors.ipynb",
        cell="roi_align_backward",
        replace=[("dx[batch[k]] += ", "dx[batch[k]] = ")],
        loses=["test_roi_align_backward"],
    ),
    # detectors.ipynb: target assignment and the focal loss of the single-stage detector.
    dict(
        name="assign_without_each_objects_best_anchor",  # thresholds only: small objects lost
        notebook="detectors.ipynb",
        cell="assign_targets",
        replace=[
            ("positive = is_claimed | (best_iou >= pos_iou)", "positive = best_iou >= pos_iou")
        ],
        loses=["test_assign_targets"],
    ),
    dict(
        name="assign_claims_without_ties",  # exactly k anchors per object (topk's indices)
        notebook="detectors.ipynb",
        cell="assign_targets",
        replace=[
            (
                "claimed = (iou >= kth) & (iou > 0)",
                "claimed = claimed.scatter(0, iou.topk(min(best_per_gt, A), dim=0).indices, True)"
                " & (iou > 0)",
            )
        ],
        loses=["test_assign_targets"],
    ),
    dict(
        name="assign_claims_per_anchor",  # topk over the objects of each anchor: wrong axis
        notebook="detectors.ipynb",
        cell="assign_targets",
        replace=[
            (
                "kth = iou.topk(min(best_per_gt, A), dim=0).values[-1]",
                "kth = iou.topk(min(best_per_gt, iou.shape[1]), dim=1).values[:, -1:]",
            )
        ],
        loses=["test_assign_targets"],
    ),
    dict(
        name="assign_claimed_anchor_to_the_best_object",  # a bigger object takes the claim
        notebook="detectors.ipynb",
        cell="assign_targets",
        replace=[("obj = torch.where(is_claimed, claim_gt, best_gt)", "obj = best_gt")],
        loses=["test_assign_targets"],
    ),
    dict(
        name="assign_without_ignored_anchors",  # IoU in [neg_iou, pos_iou) left background
        notebook="detectors.ipynb",
        cell="assign_targets",
        replace=[("    labels[(best_iou >= neg_iou) & ~positive] = IGNORE_ANCHOR\n", "")],
        loses=["test_assign_targets"],
    ),
    dict(
        name="focal_factor_with_p_instead_of_p_t",  # (1 - p)^gamma for every target
        notebook="detectors.ipynb",
        cell="sigmoid_focal_loss",
        replace=[("(targets - p).abs() ** gamma", "(1 - p) ** gamma")],
        loses=["test_sigmoid_focal_loss"],
    ),
    dict(
        name="focal_alpha_for_both_classes_alike",
        notebook="detectors.ipynb",
        cell="sigmoid_focal_loss",
        replace=[("alpha_t = alpha * targets + (1 - alpha) * (1 - targets)", "alpha_t = alpha")],
        loses=["test_sigmoid_focal_loss"],
    ),
    dict(
        name="focal_alpha_on_the_background",  # alpha and 1 - alpha swapped
        notebook="detectors.ipynb",
        cell="sigmoid_focal_loss",
        replace=[
            (
                "alpha_t = alpha * targets + (1 - alpha) * (1 - targets)",
                "alpha_t = (1 - alpha) * targets + alpha * (1 - targets)",
            )
        ],
        loses=["test_sigmoid_focal_loss"],
    ),
    dict(
        name="focal_log_of_sigmoid_overflows",  # log(1 - sigmoid(60)) = log(0)
        notebook="detectors.ipynb",
        cell="sigmoid_focal_loss",
        replace=[
            (
                "bce = -(targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits))",
                "bce = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))",
            )
        ],
        loses=["test_sigmoid_focal_loss"],
    ),
    dict(
        name="focal_loss_averaged",  # a mean instead of the elementwise loss
        notebook="detectors.ipynb",
        cell="sigmoid_focal_loss",
        replace=[("        loss = alpha_t * loss\n", "        loss = (alpha_t * loss).mean()\n")],
        loses=["test_sigmoid_focal_loss"],
    ),
]
