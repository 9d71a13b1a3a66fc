"""Plausible mistakes in 13_3d_vision (see README.md)."""

BUGS = [
    # --- pointnet.ipynb ---
    dict(
        # Average pooling is symmetric too, so the permutation checks pass; the test compares
        # the scores with a torch PointNet that max-pools (and checks the critical points'
        # values are the maxima), and a hand example whose mean differs from its max.
        name="average_pooling_instead_of_max",
        notebook="pointnet.ipynb",
        cell="pointnet_forward",
        replace=[("global_feature = h2.max(axis=1)", "global_feature = h2.mean(axis=1)")],
        loses=["test_pointnet_forward"],
    ),
    dict(
        name="pointnet_no_relu_before_pooling",  # the last shared layer left linear
        notebook="pointnet.ipynb",
        cell="pointnet_forward",
        replace=[("h2 = np.maximum(h1 @ W2 + b2, 0.0)", "h2 = h1 @ W2 + b2")],
        loses=["test_pointnet_forward"],
    ),
    dict(
        name="fps_picks_the_nearest_point",  # argmin: the point closest to the chosen set
        notebook="pointnet.ipynb",
        cell="farthest_point_sample",
        replace=[("chosen[k] = np.argmax(nearest)", "chosen[k] = np.argmin(nearest)")],
        loses=["test_farthest_point_sample"],
    ),
    dict(
        name="fps_farthest_from_the_last_choice_only",  # no running minimum over the chosen
        notebook="pointnet.ipynb",
        cell="farthest_point_sample",
        replace=[("nearest = np.minimum(nearest, to_last)", "nearest = to_last")],
        loses=["test_farthest_point_sample"],
    ),
    dict(
        name="ball_query_squared_distance_against_radius",  # d^2 < r: outside the ball for r < 1
        notebook="pointnet.ipynb",
        cell="ball_query",
        replace=[("inside = squared < radius**2", "inside = squared < radius")],
        loses=["test_ball_query"],
    ),
    dict(
        name="ball_query_pads_with_point_0",  # padding with index 0, usually outside the ball
        notebook="pointnet.ipynb",
        cell="ball_query",
        replace=[
            (
                "groups = np.where(np.arange(first.shape[1]) < count, first, first[:, :1])",
                "groups = np.where(np.arange(first.shape[1]) < count, first, 0)",
            )
        ],
        loses=["test_ball_query"],
    ),
    # --- depth_and_shape.ipynb ---
    dict(
        name="block_matching_searches_the_wrong_direction",  # left[r, c] against right[r, c + d]
        notebook="depth_and_shape.ipynb",
        cell="block_matching",
        replace=[("shifted[:, d:] = right[:, : W - d]", "shifted[:, : W - d] = right[:, d:]")],
        loses=["test_block_matching"],
    ),
    dict(
        # The sum over the clipped window: windows that lose pixels at the left border look
        # better, so large disparities win there (the brute force takes the mean).
        name="block_matching_sums_the_clipped_window",
        notebook="depth_and_shape.ipynb",
        cell="block_matching",
        replace=[
            (
                "cost = np.where(defined > 0, total / np.maximum(count, 1e-12), np.inf)",
                "cost = np.where(defined > 0, total, np.inf)",
            )
        ],
        loses=["test_block_matching"],
    ),
    dict(
        name="disparity_to_depth_without_the_offset",  # Z = f B / d, doffs forgotten
        notebook="depth_and_shape.ipynb",
        cell="disparity_to_depth",
        replace=[
            (
                "focal * baseline / (disparity[finite] + doffs)",
                "focal * baseline / disparity[finite]",
            )
        ],
        loses=["test_disparity_to_depth"],
    ),
    dict(
        # The docstring of stereo_motorcycle says NaN, the array holds inf: the inf pixels
        # enter the errors (the mean absolute error becomes inf).
        name="stereo_errors_excludes_only_nan",
        notebook="depth_and_shape.ipynb",
        cell="stereo_errors",
        replace=[("valid = np.isfinite(ground_truth)", "valid = ~np.isnan(ground_truth)")],
        loses=["test_stereo_errors"],
    ),
    dict(
        name="scale_invariant_loss_divides_by_all_pixels",  # H * W instead of the valid count
        notebook="depth_and_shape.ipynb",
        cell="scale_invariant_loss",
        replace=[("count = mask.sum(dim=(1, 2))", "count = torch.ones_like(mask).sum(dim=(1, 2))")],
        loses=["test_scale_invariant_loss"],
    ),
    dict(
        # any instead of all: a voxel seen inside one silhouette is kept, even where another
        # view sees it outside.
        name="carving_keeps_voxels_seen_outside_a_silhouette",
        notebook="depth_and_shape.ipynb",
        cell="carve_voxels",
        replace=[
            ("keep = np.ones((R, R, R), dtype=bool)", "keep = np.zeros((R, R, R), dtype=bool)"),
            ("keep = keep & seen", "keep = keep | seen"),
        ],
        loses=["test_carve_voxels"],
    ),
    dict(
        name="carving_keeps_voxels_outside_the_image",  # they count as inside the silhouette
        notebook="depth_and_shape.ipynb",
        cell="carve_voxels",
        replace=[
            (
                "seen = np.zeros((R, R, R), dtype=bool)",
                "seen = np.ones((R, R, R), dtype=bool)",
            )
        ],
        loses=["test_carve_voxels"],
    ),
    dict(
        name="rotation_6d_cross_product_reversed",  # b3 = b2 x b1: a reflection, det -1
        notebook="depth_and_shape.ipynb",
        cell="rotation_6d_to_matrix",
        replace=[
            (
                "b3 = torch.linalg.cross(b1, b2, dim=1)",
                "b3 = torch.linalg.cross(b2, b1, dim=1)",
            )
        ],
        loses=["test_rotation_6d_to_matrix"],
    ),
    dict(
        name="rotation_angle_error_without_the_transpose",  # trace(R1 R2), not trace(R1^T R2)
        notebook="depth_and_shape.ipynb",
        cell="rotation_angle_error",
        replace=[("relative = R1.transpose(1, 2) @ R2", "relative = R1 @ R2")],
        loses=["test_rotation_angle_error"],
    ),
]
