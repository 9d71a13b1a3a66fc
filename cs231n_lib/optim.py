"""First-order update rules, all with one interface.

    next_w, config = update(w, dw, config)

Inputs:
- w: the current value of one parameter, an array of any shape.
- dw: the gradient of the loss with respect to w, same shape as w.
- config: a dict of hyperparameters ("learning_rate", ...) and of the rule's state
  (a velocity, moment estimates, a step count). None means the rule's defaults.
  Rules fill in missing defaults and store their state in it; the caller keeps the
  returned dict and passes it back on the next step, one dict per parameter.
Returns (next_w, config): the updated parameter (a new array; w is not modified) and
the config to pass on the next step.

The `Solver` looks rules up by name in this module: every public function defined here
is an update rule (helpers start with an underscore). Every rule reads "learning_rate",
which the Solver's `lr_decay` multiplies after each epoch.
"""

from __future__ import annotations

import numpy as np

Config = dict


def _check_shapes(w: np.ndarray, dw: np.ndarray) -> None:
    if np.shape(w) != np.shape(dw):
        raise ValueError(f"w has shape {np.shape(w)} but its gradient dw has {np.shape(dw)}")


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config:
    - learning_rate: step size (default 1e-2).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    _check_shapes(w, dw)
    return w - config["learning_rate"] * dw, config
