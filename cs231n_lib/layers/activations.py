"""Elementwise activation functions with forward and backward passes.

| name       | forward f(x)                                   | derivative f'(x)                 |
| ---------- | ---------------------------------------------- | -------------------------------- |
| sigmoid    | 1 / (1 + e^-x)                                 | f(x) (1 - f(x))                  |
| tanh       | tanh x                                         | 1 - f(x)^2                       |
| relu       | max(0, x)                                      | 1 if x > 0 else 0                |
| leaky_relu | max(alpha x, x), alpha = 0.01                  | 1 if x > 0 else alpha            |
| elu        | x if x > 0 else alpha (e^x - 1), alpha = 1     | 1 if x > 0 else alpha e^x        |

The derivative at the kink x = 0 is the left one, as in torch (0 for ReLU, alpha for
Leaky ReLU and ELU). Every layer follows the interface of `cs231n_lib.layers`:

    out, cache = name_forward(x)          # x and out of any (same) shape
    dx = name_backward(dout, cache)       # dout and dx of the shape of x

`ACTIVATIONS` maps each name to its (forward, backward) pair; forward functions with a
slope parameter take it as the keyword `alpha`. 04_training has the student write these.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cs231n_lib.layers.core import Cache, relu_backward, relu_forward

LEAKY_SLOPE = 0.01  # Leaky ReLU's slope for x <= 0, as in the lectures and torch
ELU_ALPHA = 1.0  # ELU's saturation value -alpha for x -> -inf, as in torch


def _check_alpha(alpha: float, name: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
        raise TypeError(f"{name}: alpha must be a number, got {type(alpha).__name__}")
    if not alpha >= 0:
        raise ValueError(f"{name}: alpha must be >= 0, got {alpha!r}")
    return float(alpha)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Logistic sigmoid 1 / (1 + e^-x), elementwise, without overflow for large |x|.

    Inputs:
    - x: input of any shape.
    Returns (out, cache): out of the shape of x, values in [0, 1]; cache = out.
    """
    x = np.asarray(x)
    # NOTE: e^-|x| never overflows; for x < 0 the equal form e^x / (1 + e^x) is used.
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `sigmoid_forward`: dx = dout * s (1 - s), with s = cache."""
    out = cache
    return dout * out * (1.0 - out)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Hyperbolic tangent, elementwise. Returns (out, cache) with cache = out."""
    out = np.tanh(np.asarray(x))
    return out, out


def tanh_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `tanh_forward`: dx = dout * (1 - t^2), with t = cache."""
    out = cache
    return dout * (1.0 - out * out)


def leaky_relu_forward(x: np.ndarray, alpha: float = LEAKY_SLOPE) -> tuple[np.ndarray, Cache]:
    """Leaky ReLU max(alpha x, x), elementwise, for a slope 0 <= alpha <= 1.

    Inputs:
    - x: input of any shape.
    - alpha: slope for x <= 0.
    Returns (out, cache): out of the shape of x; cache = (x, alpha).
    """
    alpha = _check_alpha(alpha, "leaky_relu_forward")
    if alpha > 1:
        raise ValueError(f"leaky_relu_forward: alpha must be <= 1 for max(alpha x, x), got {alpha}")
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `leaky_relu_forward`: dout where x > 0, alpha * dout elsewhere."""
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha)


def elu_forward(x: np.ndarray, alpha: float = ELU_ALPHA) -> tuple[np.ndarray, Cache]:
    """Exponential linear unit: x for x > 0, alpha (e^x - 1) for x <= 0, elementwise.

    Inputs:
    - x: input of any shape.
    - alpha: the value -alpha that the output approaches for x -> -inf (alpha >= 0).
    Returns (out, cache): out of the shape of x; cache = (x, alpha).
    """
    alpha = _check_alpha(alpha, "elu_forward")
    x = np.asarray(x)
    # NOTE: expm1 keeps alpha (e^x - 1) accurate for x near 0; min(x, 0) keeps it from
    # overflowing on the branch that np.where throws away.
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return out, (x, alpha)


def elu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `elu_forward`: dout where x > 0, dout * alpha e^x where x <= 0."""
    x, alpha = cache
    # NOTE: alpha e^x equals out + alpha, but that sum cancels to 0 for x << 0.
    return dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


Forward = Callable[..., tuple[np.ndarray, Cache]]
Backward = Callable[[np.ndarray, Cache], np.ndarray]

ACTIVATIONS: dict[str, tuple[Forward, Backward]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
}


def get(name: str) -> tuple[Forward, Backward]:
    """The (forward, backward) pair of the activation called `name` (see ACTIVATIONS)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


__all__ = [
    "ACTIVATIONS",
    "ELU_ALPHA",
    "LEAKY_SLOPE",
    "elu_backward",
    "elu_forward",
    "get",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "tanh_backward",
    "tanh_forward",
]
