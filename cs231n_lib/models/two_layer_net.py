"""A two-layer fully connected network: affine - ReLU - affine - softmax.

    scores = relu(X W1 + b1) W2 + b2
    loss   = softmax cross-entropy(scores, y) + 0.5 * reg * (sum(W1 ** 2) + sum(W2 ** 2))

The factor 0.5 makes the penalty's gradient reg * W (02_linear's linear classifiers use
reg * sum(W ** 2) without it). Biases are not regularized.
"""

from __future__ import annotations

import numpy as np

from cs231n_lib.layers.core import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    softmax_loss,
)


class TwoLayerNet:
    """affine - ReLU - affine - softmax, with the interface the `Solver` expects.

    Inputs:
    - input_dim: D, values per example (examples of any shape are flattened).
    - hidden_dim: H, units of the hidden layer.
    - num_classes: C.
    - weight_scale: standard deviation of the Gaussian initial weights; biases start at 0.
    - reg: L2 regularization strength (see the module docstring).
    - seed: seed of the initial weights.
    params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        seed: int = 0,
    ):
        for name, value in (
            ("input_dim", input_dim),
            ("hidden_dim", hidden_dim),
            ("num_classes", num_classes),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not weight_scale > 0:
            raise ValueError(f"weight_scale must be positive, got {weight_scale!r}")
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        self.reg = reg
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": weight_scale * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores of X, or the loss and gradients on the labelled batch (X, y).

        Inputs:
        - X: examples, shape (N, d_1, ..., d_k) with d_1 * ... * d_k = D.
        - y: labels, shape (N,), or None.
        Returns scores of shape (N, C) if y is None, else (loss, grads) where grads holds
        the gradient of the loss with respect to each entry of params, of its shape.
        """
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)  # (N, H)
        scores, scores_cache = affine_forward(hidden, W2, b2)  # (N, C)
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, dW2, db2 = affine_backward(dscores, scores_cache)
        _, dW1, db1 = affine_relu_backward(dhidden, hidden_cache)
        grads = {
            "W1": dW1 + self.reg * W1,
            "b1": db1,
            "W2": dW2 + self.reg * W2,
            "b2": db2,
        }
        return float(loss), grads
