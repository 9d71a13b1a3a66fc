"""Batch and layer normalization in numpy, with forward and backward passes.

Both layers standardize features and then scale and shift them with learned gamma, beta:

    x_hat = (x - mu) / sqrt(var + eps)        out = gamma * x_hat + beta

They differ in which numbers mu and var are taken over. Batch normalization averages each
feature over the N examples of a batch (so an example's output depends on its batch, and
test mode uses running averages instead); layer normalization averages each example over
its own D features (the same computation in training and at test time).

bn_param = {"mode": "train" | "test", "eps" (1e-5), "momentum" (0.9), "running_mean",
"running_var"} is updated in place: train mode creates the running averages (zeros) on
first use and moves them toward each batch's statistics,

    running = momentum * running + (1 - momentum) * batch statistic,

with the biased variance (divide by N) for both the normalization and the running average.
ln_param = {"eps" (1e-5)}. Forward returns (out, cache); backward takes (dout, cache).
05_regularization has the student write these; later notebooks import them.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

Cache = Any  # what a forward pass hands to its backward pass; opaque to callers

MODES = ("train", "test")


def _check_affine(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, layer: str) -> None:
    size = x.shape[-1]
    if gamma.shape != (size,) or beta.shape != (size,):
        raise ValueError(
            f"{layer}: gamma and beta must have shape ({size},) for x {x.shape}, "
            f"got {gamma.shape} and {beta.shape}"
        )


def _eps(params: Mapping) -> float:
    eps = float(params.get("eps", 1e-5))
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return eps


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping
) -> tuple[np.ndarray, Cache]:
    """Batch normalization of (N, D) features, each feature over the batch.

    Inputs:
    - x: data, shape (N, D).
    - gamma, beta: scale and shift, shape (D,).
    - bn_param: dict with "mode" ("train" or "test", required), optional "eps" (1e-5),
      "momentum" (0.9), "running_mean" and "running_var" (D,); the running averages are
      created (zeros) and updated in place in train mode, only read in test mode.
    Returns (out, cache): out of shape (N, D).
    """
    x, gamma, beta = np.asarray(x), np.asarray(gamma), np.asarray(beta)
    if x.ndim != 2:
        raise ValueError(f"batchnorm_forward: x must be (N, D), got shape {x.shape}")
    _check_affine(x, gamma, beta, "batchnorm_forward")
    mode = bn_param.get("mode")
    if mode not in MODES:
        raise ValueError(f"bn_param['mode'] must be one of {MODES}, got {mode!r}")
    eps = _eps(bn_param)
    momentum = float(bn_param.get("momentum", 0.9))
    if not 0 <= momentum <= 1:
        raise ValueError(f"bn_param['momentum'] must lie in [0, 1], got {momentum}")
    num_features = x.shape[1]
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    if running_mean is None:
        running_mean = np.zeros(num_features, dtype=x.dtype)
    if running_var is None:
        running_var = np.zeros(num_features, dtype=x.dtype)

    if mode == "train":
        mean = x.mean(axis=0)  # (D,)
        var = x.var(axis=0)  # (D,), biased: divides by N
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)  # (D,)
    x_hat = (x - mean) * inv_std  # (N, D)
    out = gamma * x_hat + beta
    return out, (mode, x, x_hat, mean, inv_std, gamma)


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `batchnorm_forward`, one node of the computational graph at a time.

    Inputs:
    - dout: upstream gradient, shape (N, D).
    - cache: from batchnorm_forward.
    Returns (dx, dgamma, dbeta) of shapes (N, D), (D,), (D,). In train mode dx includes
    the paths through the batch mean and variance; in test mode those are constants.
    """
    mode, x, x_hat, mean, inv_std, gamma = cache
    num_examples = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma  # (N, D)
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    # The graph: centered = x - mean; var = mean(centered**2); inv_std = (var + eps)**-0.5;
    # x_hat = centered * inv_std. Walk it backwards.
    centered = x - mean  # (N, D)
    dinv_std = (dx_hat * centered).sum(axis=0)  # (D,)
    dvar = dinv_std * -0.5 * inv_std**3  # d/dv (v + eps)**-0.5
    dcentered = dx_hat * inv_std + dvar * 2.0 * centered / num_examples
    dmean = -dcentered.sum(axis=0)  # centered = x - mean
    dx = dcentered + dmean / num_examples  # mean = sum(x) / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `batchnorm_forward` in simplified closed form (same results).

    dx = gamma * inv_std / N * (N * dout - sum_n dout - x_hat * sum_n (dout * x_hat)).
    Inputs, returns as in `batchnorm_backward`.
    """
    mode, x, x_hat, _, inv_std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    if mode == "test":
        return dout * gamma * inv_std, dgamma, dbeta
    num_examples = x.shape[0]
    dx = (gamma * inv_std / num_examples) * (num_examples * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: Mapping | None = None
) -> tuple[np.ndarray, Cache]:
    """Layer normalization: each row normalized over its D features (the last axis).

    Inputs:
    - x: data, shape (N, D), or (N, T, D) where each of the N * T rows is on its own.
    - gamma, beta: scale and shift, shape (D,).
    - ln_param: optional dict with "eps" (1e-5); other keys are ignored.
    Returns (out, cache): out of the shape of x.
    """
    x, gamma, beta = np.asarray(x), np.asarray(gamma), np.asarray(beta)
    if x.ndim < 2:
        raise ValueError(f"layernorm_forward: x must be (N, D) or (N, ..., D), got {x.shape}")
    _check_affine(x, gamma, beta, "layernorm_forward")
    eps = _eps(ln_param or {})
    mean = x.mean(axis=-1, keepdims=True)  # (N, ..., 1)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # (N, ..., 1)
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    return out, (x_hat, inv_std, gamma)


def layernorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `layernorm_forward`.

    Batch norm's closed form with the roles of the axes swapped: statistics run over the
    D features of a row instead of the N rows of a feature.
    Returns (dx, dgamma, dbeta) of the shapes of x, gamma, beta.
    """
    x_hat, inv_std, gamma = cache
    batch_axes = tuple(range(dout.ndim - 1))
    dbeta = dout.sum(axis=batch_axes)
    dgamma = (dout * x_hat).sum(axis=batch_axes)
    dx_hat = dout * gamma  # (N, ..., D)
    num_features = x_hat.shape[-1]
    dx = (inv_std / num_features) * (
        num_features * dx_hat
        - dx_hat.sum(axis=-1, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=-1, keepdims=True)
    )
    return dx, dgamma, dbeta


# Spatial batch normalization (06_cnn): one mean and variance per channel of (N, C, H, W)
# images, i.e. batch norm of the N * H * W rows of the (N * H * W, C) matrix
#     (N, C, H, W) -> transpose -> (N, H, W, C) -> reshape -> (N * H * W, C)
def _to_rows(x: np.ndarray) -> np.ndarray:
    num, channels, height, width = x.shape
    return x.transpose(0, 2, 3, 1).reshape(num * height * width, channels)  # (N H W, C)


def _to_images(rows: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    num, channels, height, width = shape
    return rows.reshape(num, height, width, channels).transpose(0, 3, 1, 2)  # (N, C, H, W)


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping
) -> tuple[np.ndarray, Cache]:
    """Batch normalization of each channel over the batch and all positions.

    Inputs:
    - x: images (N, C, H, W).
    - gamma, beta: scale and shift per channel, shape (C,).
    - bn_param: as in `batchnorm_forward` ("mode" required); updated in place.
    Returns (out, cache): out (N, C, H, W).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"spatial_batchnorm_forward: x must be (N, C, H, W), got {x.shape}")
    rows_out, bn_cache = batchnorm_forward(_to_rows(x), gamma, beta, bn_param)
    return _to_images(rows_out, x.shape), (bn_cache, x.shape)


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `spatial_batchnorm_forward`.

    Inputs:
    - dout: upstream gradient (N, C, H, W).
    - cache: from the forward pass.
    Returns (dx, dgamma, dbeta) of shapes (N, C, H, W), (C,), (C,).
    """
    bn_cache, shape = cache
    drows, dgamma, dbeta = batchnorm_backward(_to_rows(np.asarray(dout)), bn_cache)
    return _to_images(drows, shape), dgamma, dbeta
