"""scikit-learn's bundled handwritten digits: the offline default for classification.

1,797 grey images of 8x8 pixels with values 0..16, ten classes; shipped inside
scikit-learn, so they load with no download.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cs231n_lib.data.layout import arrange, check_layout

DESCRIPTION = "scikit-learn's bundled 8x8 handwritten digits (offline, always available)"
CLASSES = tuple(str(d) for d in range(10))
NUM_IMAGES = 1797
IMAGE_SHAPE = (8, 8, 1)  # (H, W, C) before upsampling


def load(
    num_train: int | None = None,
    num_val: int = 300,
    num_test: int = 300,
    seed: int = 0,
    layout: str = "flat",
    dtype: npt.DTypeLike = np.float64,
    upsample: int = 1,
) -> dict[str, np.ndarray]:
    """Load the digits with a seeded, stratification-free random split.

    Inputs:
    - num_train: size of the training set; None takes every image not in val or test.
    - num_val, num_test: sizes of the validation and test sets.
    - seed: seed of the shuffle, so a split is the same on every machine.
    - layout: "flat" rows (N, D) with D = (8 * upsample) ** 2, "nhwc" images
      (N, H, W, 1) or "nchw" images (N, 1, H, W) (see cs231n_lib.data.layout).
    - dtype: a floating dtype of the images.
    - upsample: integer factor of nearest-neighbour upsampling (2 gives 16x16 images).

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test; X arrays hold
    pixels in [0, 1] (the original 0..16 divided by 16), y arrays int64 of shape (N,).
    """
    from sklearn.datasets import load_digits

    check_layout(layout)

    for name, value in [
        ("num_val", num_val),
        ("num_test", num_test),
        ("num_train", num_train),
        ("upsample", upsample),
    ]:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if upsample < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
    available = NUM_IMAGES - num_val - num_test
    if num_val < 0 or num_test < 0 or available <= 0:
        raise ValueError(
            f"num_val={num_val} and num_test={num_test} leave no training images "
            f"(there are {NUM_IMAGES} in all)"
        )
    if num_train is None:
        num_train = available
    if not 0 < num_train <= available:
        raise ValueError(
            f"num_train={num_train} must be between 1 and {available} "
            f"({NUM_IMAGES} images minus {num_val} validation and {num_test} test)"
        )

    bunch = load_digits()
    images = bunch.images[..., None] / 16.0  # (N, 8, 8, 1), values 0..16 -> [0, 1]
    labels = bunch.target.astype(np.int64)
    if upsample > 1:
        images = images.repeat(upsample, axis=1).repeat(upsample, axis=2)
    images = arrange(images, layout, dtype)

    order = np.random.default_rng(seed).permutation(len(images))
    splits = {
        "val": order[:num_val],
        "test": order[num_val : num_val + num_test],
        "train": order[num_val + num_test : num_val + num_test + num_train],
    }
    data = {}
    for split in ("train", "val", "test"):
        data[f"X_{split}"] = images[splits[split]]
        data[f"y_{split}"] = labels[splits[split]]
    return data
