"""Batch, layer and group normalization in torch: the ground truth for the numpy layers of 05.

bn_param follows the course: {"mode": "train" or "test", "eps" (1e-5), "momentum" (0.9),
"running_mean", "running_var"}. In train mode a batch is normalized with its own mean and
biased variance (divide by N), and the running averages are updated as

    running = momentum * running + (1 - momentum) * batch statistic

(also the variance: biased, unlike torch's nn.BatchNorm, whose momentum is 1 - ours and
whose running variance is unbiased). Missing running averages start at zero. In test mode
the running averages normalize. The forward functions store the new running averages in
bn_param (new arrays, numpy in numpy mode); the backward functions leave bn_param alone.
numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, Converter, require_shape, vjp

MODES = ("train", "test")


def _batch_statistics(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: Mapping
) -> tuple[torch.Tensor, torch.Tensor, float, float, str]:
    """Check shapes and settings; return the running mean and variance (zeros if missing)."""
    require_shape("x", x, (2, 3, 4, 5))
    channels = x.shape[1]
    if gamma.shape != (channels,) or beta.shape != (channels,):
        raise ValueError(
            f"gamma and beta must have shape ({channels},) for x {tuple(x.shape)}, "
            f"got {tuple(gamma.shape)} and {tuple(beta.shape)}"
        )
    mode = bn_param.get("mode", "train")
    if mode not in MODES:
        raise ValueError(f"bn_param['mode'] must be one of {MODES}, got {mode!r}")
    eps = float(bn_param.get("eps", 1e-5))
    momentum = float(bn_param.get("momentum", 0.9))
    if not eps > 0 or not 0 <= momentum <= 1:
        raise ValueError(f"need eps > 0 and 0 <= momentum <= 1, got eps={eps}, momentum={momentum}")
    zeros = torch.zeros(channels, dtype=x.dtype, device=x.device)
    running = []
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        value = zeros if value is None else torch.as_tensor(value, device=x.device).to(x.dtype)
        if value.shape != (channels,):
            raise ValueError(
                f"bn_param[{key!r}] must have shape ({channels},), got {tuple(value.shape)}"
            )
        running.append(value)
    return running[0], running[1], eps, momentum, mode


def _batchnorm(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: Mapping
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (out, new running mean, new running variance)."""
    running_mean, running_var, eps, momentum, mode = _batch_statistics(x, gamma, beta, bn_param)
    if mode == "test":
        out = F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)
        return out, running_mean, running_var
    out = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    axes = [0, *range(2, x.ndim)]  # every axis but the channels
    with torch.no_grad():
        mean = x.mean(dim=axes)
        var = x.var(dim=axes, unbiased=False)
        new_mean = momentum * running_mean + (1 - momentum) * mean
        new_var = momentum * running_var + (1 - momentum) * var
    return out, new_mean, new_var


def batchnorm_forward(x: Array, gamma: Array, beta: Array, bn_param: MutableMapping) -> Array:
    """Batch normalization of (N, D) features, per feature over the batch.

    Inputs: x (N, D), gamma (D,), beta (D,), bn_param (see the module docstring).
    Returns out (N, D); in train mode stores new "running_mean" and "running_var" (D,) in
    bn_param. Also normalizes (N, C, H, W) per channel: see spatial_batchnorm_forward.
    """
    io = Converter([x, gamma, beta])
    out, mean, var = _batchnorm(io.tensor(x), io.tensor(gamma), io.tensor(beta), bn_param)
    if bn_param.get("mode", "train") == "train":
        bn_param["running_mean"], bn_param["running_var"] = io.result((mean, var))
    return io.result(out)


def _batchnorm_out(x, gamma, beta, bn_param):
    return _batchnorm(x, gamma, beta, bn_param)[0]


def batchnorm_backward(
    dout: Array, x: Array, gamma: Array, beta: Array, bn_param: Mapping
) -> tuple:
    """Gradients (dx, dgamma, dbeta) of batchnorm_forward in bn_param's mode.

    In train mode dx includes the paths through the batch mean and variance.
    """
    return vjp(_batchnorm_out, (x, gamma, beta), dout, bn_param=dict(bn_param))


def spatial_batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: MutableMapping
) -> Array:
    """Batch normalization of images (N, C, H, W) per channel, over N, H and W.

    gamma, beta and the running averages have shape (C,). Returns out (N, C, H, W).
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    return batchnorm_forward(x, gamma, beta, bn_param)


def spatial_batchnorm_backward(
    dout: Array, x: Array, gamma: Array, beta: Array, bn_param: Mapping
) -> tuple:
    """Gradients (dx, dgamma, dbeta) of spatial_batchnorm_forward."""
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    return batchnorm_backward(dout, x, gamma, beta, bn_param)


def _eps(params: Mapping | None) -> float:
    eps = float((params or {}).get("eps", 1e-5))
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return eps


def _layernorm(x, gamma, beta, ln_param):
    require_shape("x", x, (2, 3, 4))
    size = x.shape[-1]
    if gamma.shape != (size,) or beta.shape != (size,):
        raise ValueError(
            f"gamma and beta must have shape ({size},) for x {tuple(x.shape)}, "
            f"got {tuple(gamma.shape)} and {tuple(beta.shape)}"
        )
    return F.layer_norm(x, (size,), gamma, beta, eps=_eps(ln_param))


def layernorm_forward(x: Array, gamma: Array, beta: Array, ln_param: Mapping | None = None):
    """Layer normalization: each row normalized over its D features (the last axis).

    Inputs: x (N, D) (or (N, T, D), each of the N T rows on its own), gamma (D,), beta (D,),
    ln_param {"eps": 1e-5}. The statistics come from the row, so train and test agree.
    Returns out of x's shape.
    """
    io = Converter([x, gamma, beta])
    return io.result(_layernorm(io.tensor(x), io.tensor(gamma), io.tensor(beta), ln_param))


def layernorm_backward(
    dout: Array, x: Array, gamma: Array, beta: Array, ln_param: Mapping | None = None
) -> tuple:
    """Gradients (dx, dgamma, dbeta) of layernorm_forward."""
    return vjp(_layernorm, (x, gamma, beta), dout, ln_param=ln_param)


def _groupnorm(x, gamma, beta, G, gn_param):
    require_shape("x", x, 4)
    channels = x.shape[1]
    if isinstance(G, bool) or int(G) != G or G < 1 or channels % G:
        raise ValueError(f"G must be a positive divisor of the {channels} channels, got {G!r}")
    if gamma.numel() != channels or beta.numel() != channels:
        raise ValueError(
            f"gamma and beta must hold {channels} values, one per channel (shape (C,) or "
            f"(1, C, 1, 1)), got shapes {tuple(gamma.shape)} and {tuple(beta.shape)}"
        )
    return F.group_norm(x, int(G), gamma.reshape(-1), beta.reshape(-1), eps=_eps(gn_param))


def spatial_groupnorm_forward(
    x: Array, gamma: Array, beta: Array, G: int, gn_param: Mapping | None = None
) -> Array:
    """Group normalization: the C channels of each image split into G groups of C / G,
    each group normalized over its channels and all positions.

    Inputs: x (N, C, H, W); gamma, beta with C values, shape (C,) or (1, C, 1, 1);
    G divides C; gn_param {"eps": 1e-5}. Returns out (N, C, H, W).
    """
    io = Converter([x, gamma, beta])
    return io.result(_groupnorm(io.tensor(x), io.tensor(gamma), io.tensor(beta), G, gn_param))


def spatial_groupnorm_backward(
    dout: Array, x: Array, gamma: Array, beta: Array, G: int, gn_param: Mapping | None = None
) -> tuple:
    """Gradients (dx, dgamma, dbeta) of spatial_groupnorm_forward; dgamma has gamma's shape."""
    return vjp(_groupnorm, (x, gamma, beta), dout, G=G, gn_param=gn_param)
