"""Classification losses in torch: the ground truth for the numpy losses of 02 and later.

Both take class scores x (N, C) and integer labels y (N,) in 0..C-1, average over the N
examples and return (loss, dx) like the numpy layers: the loss and its gradient with
respect to the scores. numpy in, numpy out (the loss as a float; see _tensors).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, Converter, vjp


def _check_scores(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 2 or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"expected scores x (N, C) and labels y (N,), got x {tuple(x.shape)}, "
            f"y {tuple(y.shape)}"
        )
    if y.dtype != torch.int64:
        raise TypeError(f"labels y must be integers, got dtype {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= x.shape[1]):
        raise ValueError(
            f"labels must lie in 0..{x.shape[1] - 1} for {x.shape[1]} classes, "
            f"got {int(y.min())}..{int(y.max())}"
        )


def _softmax(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    _check_scores(x, y)
    return F.cross_entropy(x, y)


def _svm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    _check_scores(x, y)
    # NOTE: torch's multi_margin_loss also divides by the number of classes C.
    return F.multi_margin_loss(x, y, p=1, margin=1.0) * x.shape[1]


def softmax_loss(x: Array, y: Array) -> tuple:
    """Cross-entropy of softmax(x) against y, averaged over the batch, and its gradient.

    loss = 1/N sum_i -log(exp(x[i, y_i]) / sum_j exp(x[i, j]));
    dx = (softmax(x) - onehot(y)) / N, of shape (N, C).
    """
    io = Converter([x, y])
    x, y = io.tensor(x), io.tensor(y)
    loss = _softmax(x.detach(), y)
    return io.result((loss, vjp(_softmax, (x,), None, y=y)[0]))


def svm_loss(x: Array, y: Array) -> tuple:
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch, and its gradient.

    loss = 1/N sum_i sum_{j != y_i} max(0, x[i, j] - x[i, y_i] + 1); dx of shape (N, C).
    """
    io = Converter([x, y])
    x, y = io.tensor(x), io.tensor(y)
    loss = _svm(x.detach(), y)
    return io.result((loss, vjp(_svm, (x,), None, y=y)[0]))
