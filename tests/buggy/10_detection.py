"""Plausible mistakes in 10_detection (boxes.ipynb; see README.md)."""

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
]
