"""Data sets of the course: one module each; `DATASETS` lists what `cs231n data` knows."""

from __future__ import annotations

DATASETS = {
    "digits": "scikit-learn's bundled 8x8 handwritten digits (offline, always available)",
    "cifar10": "CIFAR-10, 60,000 32x32 colour images in 10 classes (163 MiB download)",
}
