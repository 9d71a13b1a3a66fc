"""Plausible student mistakes in 02_linear; each must lose exactly its own test cell."""

BUGS = [
    dict(
        name="svm_grad_without_reg",
        notebook="svm.ipynb",
        cell="svm_loss_vectorized",
        replace=[
            ("dW = X.T @ dscores / num_train + 2 * reg * W", "dW = X.T @ dscores / num_train")
        ],
        loses=["test_svm_loss_vectorized"],
    ),
    dict(
        name="svm_naive_correct_class_once",
        notebook="svm.ipynb",
        cell="svm_loss_naive",
        replace=[("dW[:, y[i]] -= num_violated * X[i]", "dW[:, y[i]] -= X[i]")],
        loses=["test_svm_loss_naive"],
    ),
    dict(
        name="svm_vectorized_correct_class_once",
        notebook="svm.ipynb",
        cell="svm_loss_vectorized",
        replace=[("dscores[rows, y] = -dscores.sum(axis=1)", "dscores[rows, y] = -1")],
        loses=["test_svm_loss_vectorized"],
    ),
    dict(
        name="svm_naive_no_average",
        notebook="svm.ipynb",
        cell="svm_loss_naive",
        replace=[("dW = dW / num_train + 2 * reg * W", "dW = dW + 2 * reg * W")],
        loses=["test_svm_loss_naive"],
    ),
    dict(
        name="preprocess_mean_of_each_row",
        notebook="svm.ipynb",
        cell="preprocess",
        replace=[("X_train.mean(axis=0)", "X_train.mean(axis=1, keepdims=True)")],
        loses=["test_preprocess"],
    ),
    dict(
        name="preprocess_own_mean_per_split",
        notebook="svm.ipynb",
        cell="preprocess",
        replace=[("np.hstack([X - mean_image, ones])", "np.hstack([X - X.mean(axis=0), ones])")],
        loses=["test_preprocess"],
    ),
    dict(
        name="sgd_step_uphill",
        notebook="svm.ipynb",
        cell="linear_classifier",
        replace=[("self.W = self.W - learning_rate * dW", "self.W = self.W + learning_rate * dW")],
        loses=["test_linear_classifier"],
    ),
    dict(
        name="sgd_labels_not_matched_to_batch",
        notebook="svm.ipynb",
        cell="linear_classifier",
        replace=[
            ("X_batch, y_batch = X[batch], y[batch]", "X_batch, y_batch = X[batch], y[:batch_size]")
        ],
        loses=["test_linear_classifier"],
    ),
    dict(
        name="predict_wrong_axis",
        notebook="svm.ipynb",
        cell="linear_classifier",
        replace=[("np.argmax(X @ self.W, axis=1)", "np.argmax(X @ self.W, axis=0)")],
        loses=["test_linear_classifier"],
    ),
    dict(
        name="softmax_without_max_shift",
        notebook="softmax.ipynb",
        cell="softmax_loss_vectorized",
        replace=[("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")],
        loses=["test_softmax_loss_vectorized"],
    ),
    dict(
        name="softmax_normalized_over_examples",
        notebook="softmax.ipynb",
        cell="softmax_loss_vectorized",
        replace=[
            (
                "np.exp(shifted).sum(axis=1, keepdims=True)",
                "np.exp(shifted).sum(axis=0, keepdims=True)",
            )
        ],
        loses=["test_softmax_loss_vectorized"],
    ),
    dict(
        name="softmax_shift_by_global_max",
        notebook="softmax.ipynb",
        cell="softmax_loss_vectorized",
        replace=[("scores - scores.max(axis=1, keepdims=True)", "scores - scores.max()")],
        loses=["test_softmax_loss_vectorized"],
    ),
    dict(
        name="softmax_naive_without_max_shift",
        notebook="softmax.ipynb",
        cell="softmax_loss_naive",
        replace=[("scores = scores - scores.max()", "scores = scores")],
        loses=["test_softmax_loss_naive"],
    ),
    dict(
        name="softmax_naive_grad_without_reg",
        notebook="softmax.ipynb",
        cell="softmax_loss_naive",
        replace=[("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train")],
        loses=["test_softmax_loss_naive"],
    ),
    dict(
        # Right numbers from scipy's softmax: only the own-implementation check fails.
        name="softmax_naive_with_scipy_softmax",
        notebook="softmax.ipynb",
        cell="softmax_loss_naive",
        replace=[
            ("p_j = np.exp(scores[j] - log_sum_exp)", "p_j = special.softmax(scores)[j]"),
            (
                "    for i in range(num_train):",
                "    from scipy import special\n\n    for i in range(num_train):",
            ),
        ],
        loses=["test_softmax_loss_naive"],
    ),
]
