"""A fully connected network in torch: the ground truth for FullyConnectedNet of 04_training.

With parameters W1, b1, ..., WL, bL the network computes

    {affine - activation} x (L - 1) - affine - softmax

and its loss is the softmax cross-entropy plus 0.5 * reg * sum_l sum(W_l ** 2) (biases
are not regularized). The gradients come from autograd. numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, MutableMapping

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, Converter

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=0.01),
    "elu": lambda x: F.elu(x, alpha=1.0),
}


def _num_layers(params: MutableMapping) -> int:
    """L for parameters named W1, b1, ..., WL, bL; ValueError for any other names."""
    num_layers = len(params) // 2
    expected = {f"{kind}{layer}" for kind in "Wb" for layer in range(1, num_layers + 1)}
    if num_layers < 1 or set(params) != expected:
        raise ValueError(f"params must be named W1, b1, ..., WL, bL; got {sorted(params)}")
    return num_layers


class FullyConnectedNet:
    """The model interface of the Solver (`params`, `loss`) for given weights, in torch.

    Inputs:
    - params: dict W1 (D, H_1), b1 (H_1,), ..., WL (H_{L-1}, C), bL (C,); kept (not
      copied) as `self.params`, whose entries a Solver replaces while training.
    - reg: lambda of the penalty 0.5 * reg * sum of all W_l ** 2.
    - activation: "relu", "sigmoid", "tanh", "leaky_relu" (slope 0.01) or "elu" (alpha 1).
    """

    def __init__(self, params: MutableMapping, reg: float = 0.0, activation: str = "relu"):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}"
            )
        self.num_layers = _num_layers(params)
        self.params = params
        self.reg = float(reg)
        self.activation = activation

    def _scores(self, params: dict, X: torch.Tensor) -> torch.Tensor:
        act, L = ACTIVATIONS[self.activation], self.num_layers
        h = X.reshape(X.shape[0], -1)  # (N, D)
        for layer in range(1, L):
            h = act(h @ params[f"W{layer}"] + params[f"b{layer}"])  # (N, H_layer)
        return h @ params[f"W{L}"] + params[f"b{L}"]  # (N, C)

    def loss(self, X: Array, y: Array | None = None):
        """Scores (N, C) of X (N, d_1, ..., d_k) if y is None; else (loss, grads) with a
        float loss and grads[name] of the shape of params[name]."""
        names = sorted(self.params)
        io = Converter([*self.params.values(), X, y])
        tensors = {name: io.tensor(self.params[name]) for name in names}
        X = io.tensor(X)
        # NOTE: numpy promotes float32 @ float64 to float64; torch refuses mixed dtypes.
        dtype = functools.reduce(torch.promote_types, [t.dtype for t in tensors.values()], X.dtype)
        params = {
            name: t.detach().to(dtype).clone().requires_grad_(True) for name, t in tensors.items()
        }
        X = X.to(dtype)
        if y is None:
            with torch.no_grad():
                return io.result(self._scores(params, X))
        with torch.enable_grad():
            scores = self._scores(params, X)
            penalty = sum(
                (params[f"W{layer}"] ** 2).sum() for layer in range(1, self.num_layers + 1)
            )
            loss = F.cross_entropy(scores, io.tensor(y)) + 0.5 * self.reg * penalty
            grads = torch.autograd.grad(loss, [params[name] for name in names])
        grads = [g.to(tensors[name].dtype) for name, g in zip(names, grads, strict=True)]
        return io.result(loss.detach()), dict(zip(names, io.result(grads), strict=True))
