"""The array layouts every data set's `load` offers, the conversion into them, and the
check of the split sizes `load` takes."""

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


def check_sizes(num_train: int | None, num_val: int, num_test: int, default_train: int) -> int:
    """Refuse split sizes that are not non-negative ints (and an empty training split);
    returns num_train, `default_train` for None."""
    if num_train is None:
        num_train = default_train
    for name, value in [("num_train", num_train), ("num_val", num_val), ("num_test", num_test)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if num_train == 0:
        raise ValueError("num_train must be at least 1")
    return num_train


def check_int(name: str, value: int, low: int) -> int:
    """Return `value` as an int if it is an integer (not a bool) >= `low`, else raise a
    ValueError naming `name`, the value and the bound."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
