"""Inverted dropout in numpy, with forward and backward passes.

In training each unit is kept with probability p and zeroed otherwise, and the kept units
are divided by p, so every unit's expected value is unchanged: E[out] = x. At test time
the layer is the identity, with no rescaling needed.

dropout_param = {"p": probability of KEEPING a unit (0 < p <= 1), "mode": "train" | "test",
"seed": optional int}. NOTE: torch's `p` (nn.Dropout, F.dropout) is the probability of
DROPPING a unit, 1 - ours. With a seed every call draws the same mask (gradient checks
need that); without one each call draws a fresh mask.
05_regularization has the student write these; later notebooks import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Cache = Any  # what a forward pass hands to its backward pass; opaque to callers

MODES = ("train", "test")


def dropout_forward(x: np.ndarray, dropout_param: Mapping) -> tuple[np.ndarray, Cache]:
    """Inverted dropout: keep each unit with probability p and divide the kept ones by p.

    Inputs:
    - x: input of any shape.
    - dropout_param: {"p": keep probability in (0, 1], "mode": "train" or "test",
      "seed": optional int for a reproducible mask}.
    Returns (out, cache): out of the shape of x; cache = (dropout_param, mask), where the
    mask (shape of x, 0 or 1/p) is None in test mode.
    """
    x = np.asarray(x)
    p = dropout_param.get("p")
    if isinstance(p, bool) or not isinstance(p, int | float | np.floating) or not 0 < p <= 1:
        raise ValueError(f"dropout_param['p'] (keep probability) must lie in (0, 1], got {p!r}")
    mode = dropout_param.get("mode")
    if mode not in MODES:
        raise ValueError(f"dropout_param['mode'] must be one of {MODES}, got {mode!r}")
    if mode == "test":
        return x.copy(), (dropout_param, None)
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) < p) / p  # (shape of x): 0 or 1/p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `dropout_forward`: the gradient flows through the kept units, scaled.

    Inputs:
    - dout: upstream gradient, of the shape of x.
    - cache: (dropout_param, mask) from dropout_forward.
    Returns dx, of the shape of x.
    """
    _, mask = cache
    if mask is None:
        return dout
    return dout * mask
