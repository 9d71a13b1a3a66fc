"""Tests of cs231n_lib.data.digits: split sizes, seeding, disjointness and options."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cs231n_lib.data import digits


def _sorted_rows(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows (pixels..., label) in lexicographic order: a multiset that ignores the split."""
    rows = np.column_stack([X.reshape(len(X), -1), y])
    return rows[np.lexsort(rows.T[::-1])]


def test_default_split_sizes_shapes_and_dtypes():
    data = digits.load()

    shapes = {key: value.shape for key, value in data.items()}
    assert shapes == {
        "X_train": (digits.NUM_IMAGES - 600, 64),
        "y_train": (digits.NUM_IMAGES - 600,),
        "X_val": (300, 64),
        "y_val": (300,),
        "X_test": (300, 64),
        "y_test": (300,),
    }
    for split in ("train", "val", "test"):
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].dtype == np.int64
    assert set(np.unique(data["y_train"])) == set(range(10))


def test_requested_sizes():
    data = digits.load(num_val=50, num_test=70, num_train=200)

    assert len(data["X_train"]) == len(data["y_train"]) == 200
    assert len(data["X_val"]) == len(data["y_val"]) == 50
    assert len(data["X_test"]) == len(data["y_test"]) == 70


def test_same_seed_same_split_other_seed_other_split():
    first, again = digits.load(seed=3), digits.load(seed=3)
    other = digits.load(seed=4)

    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    for key in ("X_train", "X_val", "X_test"):
        assert not np.array_equal(first[key], other[key]), f"{key} ignores the seed"


def test_splits_partition_the_data_set():
    data = digits.load(seed=1)
    bunch = load_digits()

    X = np.concatenate([data["X_train"], data["X_val"], data["X_test"]])
    y = np.concatenate([data["y_train"], data["y_val"], data["y_test"]])
    # The union, counted with multiplicity, is the whole data set: no image is used twice.
    np.testing.assert_array_equal(
        _sorted_rows(X * 16, y), _sorted_rows(bunch.images.astype(np.float64), bunch.target)
    )


def test_small_train_set_keeps_val_and_test_and_stays_disjoint():
    small = digits.load(num_train=100, seed=2)
    full = digits.load(seed=2)

    # Shrinking the training set moves neither val nor test ...
    for key in ("X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(small[key], full[key], err_msg=key)
    # ... and draws it from the images that are in neither.
    full_train = {row.tobytes() for row in full["X_train"]}
    assert all(row.tobytes() in full_train for row in small["X_train"])


def test_labels_match_images():
    data = digits.load(seed=5)
    bunch = load_digits()
    label_of = {
        image.tobytes(): label for image, label in zip(bunch.data, bunch.target, strict=True)
    }

    for X, y in ((data["X_train"], data["y_train"]), (data["X_test"], data["y_test"])):
        # Duplicated images, if any, carry the same label in scikit-learn's data.
        assert [label_of[(row * 16).tobytes()] for row in X] == list(y)


def test_layouts_hold_the_same_pixels():
    rows = digits.load()["X_train"]
    nhwc = digits.load(layout="nhwc")["X_train"]
    nchw = digits.load(layout="nchw", dtype=np.float32)["X_train"]

    assert nhwc.shape == (digits.NUM_IMAGES - 600, 8, 8, 1)
    assert nchw.shape == (digits.NUM_IMAGES - 600, 1, 8, 8) and nchw.dtype == np.float32
    np.testing.assert_array_equal(nhwc.reshape(-1, 64), rows)
    np.testing.assert_array_equal(nchw[:, 0], nhwc[..., 0])
    with pytest.raises(ValueError, match="layout='hwc' is not one of"):
        digits.load(layout="hwc")
    with pytest.raises(TypeError, match="floating"):
        digits.load(dtype=np.int64)


def test_pixels_are_sixteenths_in_unit_interval():
    X = digits.load()["X_train"]

    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


@pytest.mark.parametrize("upsample", [2, 3])
def test_upsample_repeats_each_pixel(upsample):
    small = digits.load(layout="nhwc")
    large = digits.load(layout="nhwc", upsample=upsample)
    rows = digits.load(upsample=upsample)
    size = 8 * upsample

    assert large["X_train"].shape == (digits.NUM_IMAGES - 600, size, size, 1)
    assert rows["X_train"].shape == (digits.NUM_IMAGES - 600, size * size)
    for dy in range(upsample):
        for dx in range(upsample):
            np.testing.assert_array_equal(
                large["X_train"][:, dy::upsample, dx::upsample], small["X_train"]
            )
    np.testing.assert_array_equal(large["y_train"], small["y_train"])


BAD_ARGUMENTS = [
    (dict(num_val=-1), "num_val=-1"),
    (dict(num_test=-5), "num_test=-5"),
    (dict(num_val=1000, num_test=797), "leave no training images"),
    (dict(num_train=0), "num_train=0 must be between 1 and 1197"),
    (dict(num_train=1198), "num_train=1198 must be between 1 and 1197"),
    (dict(upsample=0), "upsample must be a positive integer"),
    (dict(upsample=-2), "upsample must be a positive integer"),
    (dict(upsample=1.5), "upsample must be a positive integer"),
    (dict(upsample="2"), "upsample must be a positive integer"),
]


@pytest.mark.parametrize(
    "kwargs, match",
    BAD_ARGUMENTS,
    ids=[",".join(f"{k}={v!r}" for k, v in case.items()) for case, _ in BAD_ARGUMENTS],
)
def test_bad_arguments_raise_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        digits.load(**kwargs)


def test_classes():
    assert digits.CLASSES == tuple("0123456789")
    assert digits.NUM_IMAGES == len(load_digits().target)
