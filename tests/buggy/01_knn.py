"""Plausible student mistakes in solutions/01_knn/knn.ipynb; format in README.md."""

BUGS = [
    dict(
        name="l2_two_loops_without_sqrt",
        notebook="knn.ipynb",
        cell="compute_distances_two_loops",
        replace=[
            (
                "np.sqrt(np.sum((X[i] - X_train[j]) ** 2))",
                "np.sum((X[i] - X_train[j]) ** 2)",
            )
        ],
        loses=["test_compute_distances_two_loops"],
    ),
    dict(
        name="l2_one_loop_sums_over_rows",
        notebook="knn.ipynb",
        cell="compute_distances_one_loop",
        replace=[("** 2, axis=1))", "** 2, axis=0))")],
        loses=["test_compute_distances_one_loop"],
    ),
    dict(
        name="l2_no_loops_wrong_sign_of_cross_term",
        notebook="knn.ipynb",
        cell="compute_distances_no_loops",
        replace=[("test_sq - 2 * X @ X_train.T", "test_sq + 2 * X @ X_train.T")],
        loses=["test_compute_distances_no_loops"],
    ),
    dict(
        name="l2_no_loops_without_sqrt",
        notebook="knn.ipynb",
        cell="compute_distances_no_loops",
        replace=[("np.sqrt(np.maximum(sq_dists, 0))", "np.maximum(sq_dists, 0)")],
        loses=["test_compute_distances_no_loops"],
    ),
    dict(
        # Rounding makes some squared distances of a row to itself slightly negative: nan.
        name="l2_no_loops_without_clipping",
        notebook="knn.ipynb",
        cell="compute_distances_no_loops",
        replace=[("np.sqrt(np.maximum(sq_dists, 0))", "np.sqrt(sq_dists)")],
        loses=["test_compute_distances_no_loops"],
    ),
    dict(
        name="l1_squared_differences",
        notebook="knn.ipynb",
        cell="compute_l1_distances",
        replace=[("np.abs(diff).sum(axis=2)", "(diff**2).sum(axis=2)")],
        loses=["test_compute_l1_distances"],
    ),
    dict(
        name="vote_tie_goes_to_largest_label",
        notebook="knn.ipynb",
        cell="predict_labels",
        replace=[
            (
                "y_pred[i] = np.argmax(counts)",
                "y_pred[i] = len(counts) - 1 - np.argmax(counts[::-1])",
            )
        ],
        loses=["test_predict_labels"],
    ),
    dict(
        # max() over the neighbour list returns the first label with the most votes: the
        # nearest of the tied labels, not the smallest.
        name="vote_tie_goes_to_nearest_label",
        notebook="knn.ipynb",
        cell="predict_labels",
        replace=[
            (
                "y_pred[i] = np.argmax(counts)",
                "y_pred[i] = max(closest_y.tolist(), key=closest_y.tolist().count)",
            )
        ],
        loses=["test_predict_labels"],
    ),
    dict(
        # Skips the nearest neighbour, as if the test row were always in the training set.
        name="vote_skips_the_nearest_neighbour",
        notebook="knn.ipynb",
        cell="predict_labels",
        replace=[("np.argsort(dists, axis=1)[:, :k]", "np.argsort(dists, axis=1)[:, 1 : k + 1]")],
        loses=["test_predict_labels"],
    ),
    dict(
        name="accuracy_counts_instead_of_fraction",
        notebook="knn.ipynb",
        cell="accuracy",
        replace=[("np.mean(y_pred == y)", "np.sum(y_pred == y)")],
        loses=["test_accuracy"],
    ),
    dict(
        # Leakage: the held-out fold is also among the training rows.
        name="cross_validation_trains_on_held_out_fold",
        notebook="knn.ipynb",
        cell="cross_validate_k",
        replace=[
            ("X_folds[fold + 1:]", "X_folds[fold:]"),
            ("y_folds[fold + 1:]", "y_folds[fold:]"),
        ],
        loses=["test_cross_validate_k"],
    ),
    dict(
        # Off by one: the last fold is never held out, its column stays 0.
        name="cross_validation_skips_last_fold",
        notebook="knn.ipynb",
        cell="cross_validate_k",
        replace=[("for fold in range(num_folds):", "for fold in range(num_folds - 1):")],
        loses=["test_cross_validate_k"],
    ),
    dict(
        # A library shortcut with the right numbers: only the own-implementation check fails.
        name="no_loops_with_scipy_distance_matrix",
        notebook="knn.ipynb",
        cell="compute_distances_no_loops",
        replace=[
            (
                "dists = np.sqrt(np.maximum(sq_dists, 0))",
                "from scipy.spatial import distance_matrix\n\n"
                "    dists = distance_matrix(X, X_train)",
            )
        ],
        loses=["test_compute_distances_no_loops"],
    ),
    dict(
        # scipy's mode is the tests' reference vote: right answers, not the student's own.
        name="vote_with_scipy_mode",
        notebook="knn.ipynb",
        cell="predict_labels",
        replace=[
            (
                "y_pred[i] = np.argmax(counts)",
                "y_pred[i] = scipy.stats.mode(closest_y).mode",
            ),
            (
                "    num_test = dists.shape[0]",
                "    import scipy.stats\n\n    num_test = dists.shape[0]",
            ),
        ],
        loses=["test_predict_labels"],
    ),
]
