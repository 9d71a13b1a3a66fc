"""Initial weights of a fully connected layer W of shape (fan_in, fan_out).

All three draw W = std * (standard normal values); they differ only in the std:

| name    | std              | keeps the activations' variance about constant for |
| ------- | ---------------- | -------------------------------------------------- |
| small   | 0.01             | nothing: in a deep net the activations shrink to 0  |
| xavier  | 1 / sqrt(fan_in) | tanh (and linear) layers                           |
| he      | sqrt(2 / fan_in) | ReLU layers, which zero half of their inputs       |

fan_in is the number of inputs of each unit, the FIRST dimension of W here (the layers
compute x @ W). NOTE: torch stores a linear layer's weight as (fan_out, fan_in), so its
fan_in is the second dimension there. Xavier here is the fan-in form of the lectures;
Glorot and Bengio's paper (and torch's xavier_normal_) average the two fans,
std = sqrt(2 / (fan_in + fan_out)).

Every function takes `rng`, a numpy Generator or an int seed, so results are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SMALL_STD = 0.01  # the lectures' "small random numbers": 0.01 * randn

Rng = np.random.Generator | int


def _generator(rng: Rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer):
        raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")
    return np.random.default_rng(int(rng))


def _check_fans(fan_in: int, fan_out: int) -> None:
    for name, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def gaussian(fan_in: int, fan_out: int, std: float, rng: Rng) -> np.ndarray:
    """W of shape (fan_in, fan_out) with independent N(0, std^2) entries."""
    _check_fans(fan_in, fan_out)
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    return std * _generator(rng).standard_normal((fan_in, fan_out))


def small_random(fan_in: int, fan_out: int, rng: Rng, scale: float = SMALL_STD) -> np.ndarray:
    """Small random weights: scale * randn, shape (fan_in, fan_out), scale 0.01 by default."""
    return gaussian(fan_in, fan_out, scale, rng)


def xavier(fan_in: int, fan_out: int, rng: Rng) -> np.ndarray:
    """Xavier initialization: randn / sqrt(fan_in), shape (fan_in, fan_out)."""
    _check_fans(fan_in, fan_out)
    return gaussian(fan_in, fan_out, 1.0 / np.sqrt(fan_in), rng)


def he(fan_in: int, fan_out: int, rng: Rng) -> np.ndarray:
    """He (Kaiming) initialization: randn * sqrt(2 / fan_in), shape (fan_in, fan_out)."""
    _check_fans(fan_in, fan_out)
    return gaussian(fan_in, fan_out, np.sqrt(2.0 / fan_in), rng)


INITIALIZERS: dict[str, Callable[[int, int, Rng], np.ndarray]] = {
    "small": small_random,
    "xavier": xavier,
    "he": he,
}


def init_weights(fan_in: int, fan_out: int, method: str, rng: Rng) -> np.ndarray:
    """W of shape (fan_in, fan_out) by the initialization `method` ("small", "xavier", "he")."""
    if method not in INITIALIZERS:
        raise ValueError(
            f"unknown initialization method {method!r}; choose one of {sorted(INITIALIZERS)}"
        )
    return INITIALIZERS[method](fan_in, fan_out, rng)
