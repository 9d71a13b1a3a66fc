"""torch building blocks for the notebooks from 07_pytorch on, each on `config.device()`:

- training: make_loader, train_epoch, evaluate, fit (a plain classifier training loop)
- counting: count_parameters, count_multiply_adds (also for models on the meta device)
- augmentation: the numpy augmentations of 05_regularization on (N, C, H, W) tensors

A block enters the package when a later notebook needs it; the notebook that teaches it
keeps the student's own version in its cells.
"""

from cs231n_lib.blocks.counting import count_multiply_adds, count_parameters
from cs231n_lib.blocks.training import evaluate, fit, make_loader, train_epoch

__all__ = [
    "count_multiply_adds",
    "count_parameters",
    "evaluate",
    "fit",
    "make_loader",
    "train_epoch",
]
