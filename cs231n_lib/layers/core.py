"""Numpy layers with a forward and a backward pass: affine, ReLU, softmax loss, sandwich.

Every layer follows one interface, so networks can be stacked from them:

    out, cache = layer_forward(x, *params)   # cache: whatever backward needs
    dx, *dparams = layer_backward(dout, cache)

where dout is the gradient of the loss with respect to `out` (same shape as out) and
each returned gradient has the shape of the input it belongs to. Loss layers take the
scores and labels and return (loss, dscores) directly.

Shapes use one alphabet: N examples, D = d_1 * ... * d_k input features, M outputs,
C classes. 03_backprop has the student write these; later notebooks import them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Cache = Any  # what a forward pass hands to its backward pass; opaque to callers


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Fully connected layer: each example is flattened to a row, then out = row @ w + b.

    Inputs:
    - x: input of shape (N, d_1, ..., d_k); example i is x[i], D = d_1 * ... * d_k values.
    - w: weights, shape (D, M).
    - b: biases, shape (M,).
    Returns (out, cache): out of shape (N, M), cache = (x, w, b).
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    if x.ndim < 1 or w.ndim != 2 or b.shape != (w.shape[1],):
        raise ValueError(
            f"expected x (N, d_1, ..., d_k), w (D, M), b (M,); got x {x.shape}, "
            f"w {w.shape}, b {b.shape}"
        )
    rows = x.reshape(x.shape[0], -1)  # (N, D)
    if rows.shape[1] != w.shape[0]:
        raise ValueError(
            f"x {x.shape} has D = {rows.shape[1]} values per example, but w {w.shape} "
            f"expects D = {w.shape[0]}"
        )
    out = rows @ w + b  # (N, M)
    return out, (x, w, b)


def affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `affine_forward`.

    Inputs:
    - dout: upstream gradient, shape (N, M).
    - cache: (x, w, b) from affine_forward.
    Returns (dx, dw, db) of shapes (N, d_1, ..., d_k), (D, M) and (M,).
    """
    x, w, _ = cache
    rows = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)  # (N, D) -> (N, d_1, ..., d_k)
    dw = rows.T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,): b is added to every row
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Rectified linear unit, elementwise: out = max(0, x).

    Inputs:
    - x: input of any shape.
    Returns (out, cache): out of the shape of x, cache = x.
    """
    x = np.asarray(x)
    return np.maximum(0, x), x


def relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `relu_forward`: the gradient passes where the input was positive.

    Inputs:
    - dout: upstream gradient, of the shape of x.
    - cache: x from relu_forward.
    Returns dx, of the shape of x. At x = 0 the subgradient 0 is used.
    """
    x = cache
    return dout * (x > 0)


def softmax_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax probabilities, and its gradient; numerically stable.

    L = 1/N sum_i -log(exp(s_iy_i) / sum_j exp(s_ij)), computed after subtracting each
    row's largest score (which changes no probability and keeps exp from overflowing).

    Inputs:
    - scores: class scores, shape (N, C); scores[i, j] is the score of class j for example i.
    - y: labels, shape (N,), integers in 0..C-1.
    Returns (loss, dscores): a float and the gradient with respect to scores, shape (N, C).
    """
    scores, y = np.asarray(scores), np.asarray(y)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(f"expected scores (N, C) and y (N,), got {scores.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    num_examples, num_classes = scores.shape
    if num_examples == 0:
        raise ValueError("softmax_loss got no examples (N = 0)")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} for {num_classes} classes, "
            f"got {y.min()}..{y.max()}"
        )
    rows = np.arange(num_examples)
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C), every entry <= 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)  # dL_i/ds_ij = p_ij - 1[j == y_i], then the mean's 1/N
    dscores[rows, y] -= 1.0
    return float(loss), dscores / num_examples


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """An affine layer followed by a ReLU: out = max(0, affine(x)).

    Inputs and out as in `affine_forward`; cache = (affine cache, relu cache).
    """
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `affine_relu_forward`: through the ReLU first, then the affine layer.

    Returns (dx, dw, db) as in `affine_backward`.
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)  # (N, M)
    return affine_backward(da, fc_cache)
