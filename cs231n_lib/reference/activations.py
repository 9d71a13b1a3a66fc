"""Sigmoid, tanh, Leaky ReLU and ELU in torch: the ground truth for the activations of
04_training (ReLU is in reference.layers).

Forward functions return only the output (no cache); backward functions take the
upstream gradient dout and the forward's input x (and its alpha). The derivative at the
kink x = 0 is the left one, as in torch: alpha for Leaky ReLU and ELU. numpy in, numpy
out (see _tensors).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, numpy_io, vjp

LEAKY_SLOPE = 0.01  # Leaky ReLU's default slope for x <= 0 (torch's negative_slope)
ELU_ALPHA = 1.0  # ELU's default alpha: it saturates at -alpha


@numpy_io
def sigmoid_forward(x: Array) -> Array:
    """1 / (1 + e^-x) elementwise, any shape."""
    return torch.sigmoid(x)


def sigmoid_backward(dout: Array, x: Array) -> Array:
    """dx = dout * s (1 - s) with s = sigmoid(x); dout and dx of the shape of x."""
    return vjp(torch.sigmoid, (x,), dout)[0]


@numpy_io
def tanh_forward(x: Array) -> Array:
    """tanh x elementwise, any shape."""
    return torch.tanh(x)


def tanh_backward(dout: Array, x: Array) -> Array:
    """dx = dout * (1 - tanh(x) ** 2); dout and dx of the shape of x."""
    return vjp(torch.tanh, (x,), dout)[0]


@numpy_io
def leaky_relu_forward(x: Array, alpha: float = LEAKY_SLOPE) -> Array:
    """x where x > 0, alpha * x elsewhere, any shape."""
    return F.leaky_relu(x, negative_slope=float(alpha))


def leaky_relu_backward(dout: Array, x: Array, alpha: float = LEAKY_SLOPE) -> Array:
    """dx = dout where x > 0, alpha * dout where x <= 0."""
    return vjp(F.leaky_relu, (x,), dout, negative_slope=float(alpha))[0]


@numpy_io
def elu_forward(x: Array, alpha: float = ELU_ALPHA) -> Array:
    """x where x > 0, alpha * (e^x - 1) elsewhere, any shape."""
    return F.elu(x, alpha=float(alpha))


def elu_backward(dout: Array, x: Array, alpha: float = ELU_ALPHA) -> Array:
    """dx = dout where x > 0, dout * alpha * e^x where x <= 0."""
    return vjp(F.elu, (x,), dout, alpha=float(alpha))[0]
