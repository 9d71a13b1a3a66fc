"""Helpers the torch block tests share."""

from __future__ import annotations

import torch


def perturbed(model, seed=0, scale=0.1):
    """model in eval mode with its weights and batch-norm statistics moved off their
    initial values, so that no unit, gate or statistic sits at a special point."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0, generator=generator)
            elif name.endswith("running_mean"):
                b.normal_(0.0, 0.1, generator=generator)
    return model.eval()
