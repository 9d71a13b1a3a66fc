"""Affine, ReLU and affine-ReLU layers in torch: the ground truth for the numpy layers of 03
and later.

Forward functions return only the output (no cache); backward functions take the
upstream gradient dout and the forward's inputs. numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

import math

import torch

from cs231n_lib.reference._tensors import Array, numpy_io, vjp


def _affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if w.ndim != 2 or b.ndim != 1 or b.shape[0] != w.shape[1]:
        raise ValueError(
            f"expected w (D, M) and b (M,), got w {tuple(w.shape)} and b {tuple(b.shape)}"
        )
    num_features = math.prod(x.shape[1:])
    if x.ndim < 2 or num_features != w.shape[0]:
        raise ValueError(
            f"x of shape {tuple(x.shape)} has D = {num_features} features per row, "
            f"but w has shape {tuple(w.shape)}"
        )
    return x.reshape(x.shape[0], num_features) @ w + b  # (N, D) @ (D, M) -> (N, M)


@numpy_io
def affine_forward(x: Array, w: Array, b: Array) -> Array:
    """out = x w + b, each example of x flattened to a row.

    Inputs: x (N, d_1, ..., d_k), w (D, M) with D = d_1 * ... * d_k, b (M,).
    Returns out of shape (N, M).
    """
    return _affine(x, w, b)


def affine_backward(dout: Array, x: Array, w: Array, b: Array) -> tuple:
    """Gradients of the affine layer: (dx, dw, db) shaped like x, w, b; dout is (N, M)."""
    return vjp(_affine, (x, w, b), dout)


@numpy_io
def relu_forward(x: Array) -> Array:
    """max(0, x) elementwise, any shape."""
    return torch.relu(x)


def relu_backward(dout: Array, x: Array) -> Array:
    """dx = dout where x > 0, else 0 (the subgradient at 0 is 0)."""
    return vjp(torch.relu, (x,), dout)[0]


def _affine_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.relu(_affine(x, w, b))


@numpy_io
def affine_relu_forward(x: Array, w: Array, b: Array) -> Array:
    """max(0, x w + b): an affine layer followed by a ReLU, as in affine_forward.

    Inputs: x (N, d_1, ..., d_k), w (D, M) with D = d_1 * ... * d_k, b (M,).
    Returns out of shape (N, M).
    """
    return _affine_relu(x, w, b)


def affine_relu_backward(dout: Array, x: Array, w: Array, b: Array) -> tuple:
    """Gradients of the affine-ReLU layer: (dx, dw, db) shaped like x, w, b; dout is (N, M)."""
    return vjp(_affine_relu, (x, w, b), dout)
