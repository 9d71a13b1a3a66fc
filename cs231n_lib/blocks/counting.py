"""Counting a network's parameters and multiply-adds, also for models on the meta device.

A model built under `with torch.device("meta"):` has every parameter's shape but no
values and no memory, so the full-size ImageNet networks can be counted on a laptop.
A multiply-add (MAC) is one product added to a sum: a conv layer producing outputs of
shape (F, H', W') from C input channels with an HH x WW kernel does F H' W' C HH WW of
them, a linear layer D_in D_out per example. Only convolutions and linear layers are
counted; normalization, activations and pooling add a few percent at most.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of `model` (shared parameters counted once).

    With trainable_only, parameters with requires_grad=False are left out.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, _CONVS):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, _TRANSPOSED):
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return inputs[0].numel() * per_input
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_multiply_adds(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of conv and linear layers in one forward pass of a single example.

    Inputs:
    - model: any nn.Module, on any device, the meta device included.
    - input_shape: the shape of ONE example without the batch axis, e.g. (3, 224, 224).
    Returns an int. The model runs once in eval mode on a zero input of batch size 1 on
    its parameters' device; its train/eval flags are restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if not all(isinstance(s, int) and s > 0 for s in input_shape):
        raise ValueError(
            f"input_shape must be positive ints without the batch axis, got {input_shape}"
        )
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += _macs(module, inputs, output)

    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return total
