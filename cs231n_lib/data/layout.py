"""The array layouts every data set's `load` offers, and the conversion into them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LAYOUTS = {
    "flat": "rows (N, D): each image flattened, pixel by pixel (H, W, C order)",
    "nhwc": "images (N, H, W, C): channels last, as matplotlib shows them",
    "nchw": "images (N, C, H, W): channels first, as torch and the conv layers take them",
}


def check_layout(layout: str) -> str:
    """Return `layout` if it is one of LAYOUTS, else raise a ValueError naming them."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of {sorted(LAYOUTS)}")
    return layout


def arrange(images: np.ndarray, layout: str, dtype: npt.DTypeLike) -> np.ndarray:
    """Images (N, H, W, C) in [0, 1] -> `layout` (LAYOUTS) as a C-contiguous `dtype` array."""
    check_layout(layout)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating type such as np.float32, got {dtype}")
    if layout == "flat":
        images = images.reshape(len(images), -1)
    elif layout == "nchw":
        images = images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images, dtype=dtype)
