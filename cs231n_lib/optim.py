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


def _state(config: Config, key: str, w: np.ndarray) -> np.ndarray:
    """The per-parameter state config[key], zeros of w's shape on the first step."""
    value = config.get(key)
    if value is None:
        # float32 parameters keep float32 state, so their updates stay float32
        dtype = np.asarray(w).dtype
        return np.zeros(np.shape(w), dtype if np.issubdtype(dtype, np.floating) else np.float64)
    if np.shape(value) != np.shape(w):
        raise ValueError(f"config[{key!r}] has shape {np.shape(value)}, but w has {np.shape(w)}")
    return value


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """SGD with momentum: a velocity that keeps a running sum of past steps.

        v <- momentum * v - learning_rate * dw
        w <- w + v

    config:
    - learning_rate: step size (default 1e-2).
    - momentum: gamma, the fraction of the velocity kept each step, in [0, 1) (default 0.9).
    - velocity: v, same shape as w (zeros at first).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    _check_shapes(w, dw)
    v = config["momentum"] * _state(config, "velocity", w) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def adagrad(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """AdaGrad: each entry's step is divided by the root of its summed squared gradients.

        cache <- cache + dw^2
        w <- w - learning_rate * dw / (sqrt(cache) + epsilon)

    config:
    - learning_rate: step size (default 1e-2).
    - epsilon: keeps the division finite where cache is 0 (default 1e-8).
    - cache: the sum of squared gradients, same shape as w (zeros at first).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    _check_shapes(w, dw)
    cache = _state(config, "cache", w) + dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """RMSProp: AdaGrad with a leaky (exponentially decaying) average of squared gradients.

        cache <- decay_rate * cache + (1 - decay_rate) * dw^2
        w <- w - learning_rate * dw / (sqrt(cache) + epsilon)

    config:
    - learning_rate: step size (default 1e-2).
    - decay_rate: fraction of the average kept each step, in [0, 1) (default 0.99).
    - epsilon: keeps the division finite where cache is 0 (default 1e-8).
    - cache: the moving average of squared gradients, same shape as w (zeros at first).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    _check_shapes(w, dw)
    decay = config["decay_rate"]
    cache = decay * _state(config, "cache", w) + (1 - decay) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam: momentum (first moment) and RMSProp (second moment), with bias correction.

        t <- t + 1                                   (so the first step has t = 1)
        m <- beta1 * m + (1 - beta1) * dw
        v <- beta2 * v + (1 - beta2) * dw^2
        w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon),
             m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

    m and v start at 0, so without the correction they would be far too small in the
    first steps; dividing by 1 - beta^t makes them unbiased estimates of the moments.

    config:
    - learning_rate: step size (default 1e-3).
    - beta1, beta2: decay rates of the two moment averages (defaults 0.9, 0.999).
    - epsilon: keeps the division finite (default 1e-8).
    - m, v: the moment averages, same shape as w (zeros at first); t: steps taken (0).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    _check_shapes(w, dw)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * _state(config, "m", w) + (1 - beta1) * dw
    v = beta2 * _state(config, "v", w) + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    config.update(t=t, m=m, v=v)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
