"""Linear classifiers: the multiclass SVM and softmax losses, and minibatch SGD training.

The score function is s = x W for a row x of D features (the bias trick appends a
constant 1 to x, so W holds the biases in its last row). Both losses average over the
N examples of a batch and add the L2 penalty reg * sum(W ** 2):

    SVM:      L = 1/N sum_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1)   + reg * sum(W ** 2)
    softmax:  L = 1/N sum_i -log(exp(s_iy_i) / sum_j exp(s_ij))         + reg * sum(W ** 2)

These are the vectorized versions that later notebooks reuse; 02_linear has the student
write them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float], tuple[float, np.ndarray]]


def _check_inputs(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
    """Raise ValueError unless W is (D, C), X is (N, D) and y holds N labels in 0..C-1."""
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(
            f"expected W (D, C), X (N, D) and y (N,), got W {W.shape}, X {X.shape}, y {y.shape}"
        )
    if X.shape[1] != W.shape[0] or len(y) != len(X):
        raise ValueError(
            f"shapes do not fit together: W {W.shape}, X {X.shape}, y {y.shape}; "
            f"need W (D, C), X (N, D), y (N,)"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= W.shape[1]):
        raise ValueError(
            f"labels must lie in 0..{W.shape[1] - 1} (W has {W.shape[1]} classes), "
            f"got {y.min()}..{y.max()}"
        )


def svm_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """Multiclass SVM (hinge) loss with margin 1 and L2 regularization, and its gradient.

    Inputs:
    - W: weights, shape (D, C).
    - X: a batch of N examples, shape (N, D).
    - y: labels, shape (N,), integers in 0..C-1.
    - reg: regularization strength lambda of reg * sum(W ** 2).
    Returns (loss, dW): a float and the gradient with respect to W, shape (D, C).
    """
    W, X, y = np.asarray(W), np.asarray(X), np.asarray(y)
    _check_inputs(W, X, y)
    num_train = len(X)
    rows = np.arange(num_train)
    scores = X @ W  # (N, C)
    margins = np.maximum(0.0, scores - scores[rows, y][:, None] + 1.0)  # (N, C)
    margins[rows, y] = 0.0
    loss = margins.sum() / num_train + reg * np.sum(W * W)

    # Each violated margin pushes its own class up by x_i and the correct class down by x_i.
    dscores = (margins > 0).astype(scores.dtype)  # (N, C)
    dscores[rows, y] = -dscores.sum(axis=1)
    dW = X.T @ dscores / num_train + 2.0 * reg * W  # (D, C)
    return float(loss), dW


def softmax_loss(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Softmax (cross-entropy) loss with L2 regularization, and its gradient.

    Numerically stable for any scores: the log-sum-exp is taken after subtracting each
    row's largest score, which changes no probability and keeps exp from overflowing.

    Inputs and returns as in `svm_loss`.
    """
    W, X, y = np.asarray(W), np.asarray(X), np.asarray(y)
    _check_inputs(W, X, y)
    num_train = len(X)
    rows = np.arange(num_train)
    scores = X @ W  # (N, C)
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C), every entry <= 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)
    loss = -log_probs[rows, y].sum() / num_train + reg * np.sum(W * W)

    dscores = np.exp(log_probs)  # dL_i/ds_ij = p_ij - 1[j == y_i]
    dscores[rows, y] -= 1.0
    dW = X.T @ dscores / num_train + 2.0 * reg * W  # (D, C)
    return float(loss), dW


class LinearClassifier:
    """Scores X @ W; W is trained by minibatch SGD on a loss function.

    `loss_fn(W, X, y, reg) -> (loss, dW)` is any loss with the signature of `svm_loss`;
    the subclasses `LinearSVM` and `Softmax` bring their own.
    """

    default_loss: LossFn | None = None

    def __init__(self, loss_fn: LossFn | None = None, weight_scale: float = 1e-3):
        loss_fn = loss_fn if loss_fn is not None else self.default_loss
        if loss_fn is None:
            raise TypeError(
                "LinearClassifier needs a loss_fn(W, X, y, reg) -> (loss, dW), "
                "e.g. svm_loss or softmax_loss; or use LinearSVM or Softmax"
            )
        if not weight_scale > 0:
            raise ValueError(f"weight_scale must be positive, got {weight_scale!r}")
        self.loss_fn = loss_fn
        self.weight_scale = weight_scale  # std of the random initial weights
        self.W: np.ndarray | None = None  # (D, C), created by the first call of train

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        learning_rate: float = 1e-3,
        reg: float = 1e-5,
        num_iters: int = 100,
        batch_size: int = 200,
        seed: int = 0,
        progress: bool = False,
    ) -> list[float]:
        """Run `num_iters` steps of minibatch SGD; return the loss of every step.

        Inputs:
        - X: training data, shape (N, D); y: labels, shape (N,), integers 0..C-1.
        - learning_rate: step size of W <- W - learning_rate * dW.
        - reg: regularization strength passed to the loss.
        - num_iters: number of SGD steps.
        - batch_size: examples per step, drawn with replacement.
        - seed: seeds the initial W (when there is none yet) and the minibatches.
        - progress: show a tqdm progress bar (on stderr, so off by default).
        The first call creates W with C = y.max() + 1 classes; later calls continue from it.
        """
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim != 2 or y.shape != (len(X),):
            raise ValueError(f"expected X (N, D) and y (N,), got X {X.shape} and y {y.shape}")
        if len(X) == 0:
            raise ValueError("train got no examples")
        if num_iters < 0 or batch_size < 1:
            raise ValueError(
                f"num_iters must be >= 0 and batch_size >= 1, got {num_iters} and {batch_size}"
            )
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        num_train, dim = X.shape
        num_classes = int(y.max()) + 1
        rng = np.random.default_rng(seed)
        if self.W is None:
            self.W = self.weight_scale * rng.standard_normal((dim, num_classes))
        elif self.W.shape[0] != dim or self.W.shape[1] < num_classes:
            raise ValueError(
                f"W has shape {self.W.shape} from earlier training, which does not fit "
                f"X {X.shape} with {num_classes} classes; make a new classifier"
            )

        steps = range(num_iters)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc=f"{type(self).__name__} SGD", leave=False)
        loss_history = []
        for step in steps:
            batch = rng.integers(0, num_train, size=batch_size)  # (B,), with replacement
            loss, dW = self.loss_fn(self.W, X[batch], y[batch], reg)
            self.W = self.W - learning_rate * dW
            loss_history.append(float(loss))
            if progress and step % 10 == 0:
                steps.set_postfix(loss=f"{loss:.4g}")
        return loss_history

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels, shape (N,): the class with the highest score for each row of X."""
        if self.W is None:
            raise RuntimeError("the classifier has no weights yet: call train first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.W.shape[0]:
            raise ValueError(f"X must have shape (N, {self.W.shape[0]}), got {X.shape}")
        return np.argmax(X @ self.W, axis=1)


class LinearSVM(LinearClassifier):
    """A linear classifier trained on the multiclass SVM loss."""

    default_loss = staticmethod(svm_loss)


class Softmax(LinearClassifier):
    """A linear classifier trained on the softmax (cross-entropy) loss."""

    default_loss = staticmethod(softmax_loss)
