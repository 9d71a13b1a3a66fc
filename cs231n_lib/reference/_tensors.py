"""numpy in, numpy out: how reference functions convert their arguments and results.

Every reference function computes with torch. When none of its array arguments is a
torch tensor (numpy arrays, plain numbers), the arrays are copied to tensors on
`compute_device`, and every tensor in the result comes back as a numpy array (a 0-d
result as a Python float). When any argument is a tensor, the computation stays in torch
on that tensor's device and tensors come back, so later notebooks can use the functions
as fast building blocks. Floating arrays keep their dtype (float64 stays float64),
integer arrays become int64.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from cs231n_lib import config

Array = np.ndarray | torch.Tensor


def compute_device(dtype: torch.dtype = torch.float64) -> torch.device:
    """Where numpy inputs are computed: config.device(), except float64 on an Apple GPU.

    NOTE: MPS has no float64, and ground truth for float64 numpy code must not be
    rounded to float32, so float64 work on a Mac runs on its CPU.
    """
    device = config.device()
    if device.type == "mps" and dtype == torch.float64:
        return torch.device("cpu")
    return device


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | torch.Tensor)


def to_tensor(value: Any, device: torch.device | None) -> Any:
    """A numpy array as a tensor on `device` (integers as int64); anything else as it is."""
    if not isinstance(value, np.ndarray):
        return value
    if np.issubdtype(value.dtype, np.integer):
        value = value.astype(np.int64)
    elif not (np.issubdtype(value.dtype, np.floating) or value.dtype == np.bool_):
        raise TypeError(f"cannot compute with a numpy array of dtype {value.dtype}")
    return torch.as_tensor(value, device=device)


def to_numpy(value: Any) -> Any:
    """Tensors (also inside tuples and lists) as numpy arrays; 0-d tensors as floats."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.item() if value.ndim == 0 else value.numpy()
    if isinstance(value, tuple | list):
        return type(value)(to_numpy(v) for v in value)
    return value


class Converter:
    """Decides numpy or torch mode from a call's arguments and converts both ways."""

    def __init__(self, values: Sequence[Any]):
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        self.numpy_mode = not tensors
        if tensors:
            self.device = tensors[0].device
        else:
            floats = [v for v in values if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
            dtype = torch.float32 if floats and floats[0].dtype == np.float32 else torch.float64
            self.device = compute_device(dtype)

    def tensor(self, value: Any) -> Any:
        """`value` as a tensor on the computing device (tensors are moved if needed)."""
        if isinstance(value, torch.Tensor):
            return value.to(self.device)
        return to_tensor(value, self.device)

    def result(self, value: Any) -> Any:
        """What the caller gets back: numpy in numpy mode, tensors otherwise."""
        return to_numpy(value) if self.numpy_mode else value


def numpy_io(fn: Callable) -> Callable:
    """Decorate a function of tensors so that numpy arrays in give numpy arrays out.

    Positional and keyword arguments that are numpy arrays are converted; dicts such as
    conv_param are passed on unchanged.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        io = Converter([*args, *kwargs.values()])
        args = [io.tensor(a) for a in args]
        kwargs = {k: io.tensor(v) for k, v in kwargs.items()}
        return io.result(fn(*args, **kwargs))

    return wrapper


def vjp(fn: Callable, inputs: Sequence[Array], dout: Array | None = None, **kwargs) -> tuple:
    """Gradients of sum(fn(*inputs, **kwargs) * dout) with respect to each input, by autograd.

    This is what a layer's backward pass returns for the upstream gradient dout. With
    dout=None, fn must return a scalar and its gradient is taken.

    Inputs:
    - fn: a function of tensors (a reference forward function works too).
    - inputs: the differentiable arguments, numpy arrays or tensors; they are not modified.
    - dout: upstream gradient of fn's output's shape, or None for a scalar fn.
    - kwargs: further arguments of fn, passed as they are (conv_param, y, ...).
    Returns a tuple with one gradient per input, numpy arrays in numpy mode.
    """
    io = Converter([*inputs, dout])
    leaves = [io.tensor(x).detach().clone().requires_grad_(True) for x in inputs]
    for i, x in enumerate(leaves):
        if not x.is_floating_point():
            raise TypeError(f"input {i} of vjp has dtype {x.dtype}; only floats have gradients")
    kwargs = {k: io.tensor(v) for k, v in kwargs.items()}
    with torch.enable_grad():
        out = fn(*leaves, **kwargs)
        if dout is None:
            if out.numel() != 1:
                raise ValueError(
                    f"fn returns shape {tuple(out.shape)}; pass dout for a non-scalar output"
                )
            grad_out = torch.ones_like(out)
        else:
            grad_out = io.tensor(dout).to(out.dtype)
            if grad_out.shape != out.shape:
                raise ValueError(
                    f"dout has shape {tuple(grad_out.shape)}, the output has shape "
                    f"{tuple(out.shape)}"
                )
        grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
    grads = tuple(
        torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads, strict=True)
    )
    return io.result(grads)


def require_shape(name: str, value: Array, ndim: int | Sequence[int]) -> None:
    """Raise ValueError unless `value` has `ndim` dimensions (or one of several)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if value.ndim not in allowed:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
            f"got shape {tuple(value.shape)}"
        )
