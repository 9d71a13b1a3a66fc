"""cs231n_lib.data.cluttered_digits: splits from disjoint base digits, the drawing's ranges,
and seeds that pin everything (the pinned hashes are in test_data_registry.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cs231n_lib.data import cluttered_digits as cd


def test_each_split_is_drawn_from_its_own_base_digits():
    digits = load_digits()
    pools = cd.split_pools(len(digits.images), seed=0)
    together = np.concatenate(list(pools.values()))
    assert sorted(together) == list(range(len(digits.images))), "pools overlap or miss digits"
    assert len(pools["train"]) > len(pools["val"]) == len(pools["test"]) - 1
    # Bases outside the test pool are NaN: a single one drawn (as the digit or as clutter)
    # would make the image NaN.
    bases = np.full(digits.images.shape, np.nan)
    bases[pools["test"]] = digits.images[pools["test"]] / 16.0
    images, labels = cd.draw(bases, digits.target, pools["test"], 200, np.random.default_rng(1))
    assert images.shape == (200, 32, 32) and labels.shape == (200,)
    assert not np.isnan(images).any(), "a test image was drawn from a base of another split"


def test_images_are_unit_floats_with_a_digit_on_them():
    data = cd.load(num_train=64, num_val=8, num_test=8, seed=3, layout="nhwc")
    X = data["X_train"]
    assert X.shape == (64, 32, 32, 1) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    # Every image holds a digit at least 0.6 * (the 8x8 digit's peak) bright over a
    # background whose median is near 0.
    peaks = X.reshape(64, -1).max(axis=1)
    assert peaks.min() > 0.45, peaks.min()
    assert np.median(X) < 0.1
    assert np.bincount(data["y_train"], minlength=10).min() >= 1


def test_the_size_of_one_split_never_changes_another():
    small = cd.load(num_train=10, num_val=5, num_test=5, seed=7)
    large = cd.load(num_train=40, num_val=5, num_test=5, seed=7)
    np.testing.assert_array_equal(small["X_test"], large["X_test"])
    np.testing.assert_array_equal(small["X_train"], large["X_train"][:10])


@pytest.mark.parametrize("bad", [dict(num_train=0), dict(num_val=-1), dict(num_test=2.5)])
def test_bad_sizes_are_refused_with_the_argument_named(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        cd.load(**{**dict(num_train=4, num_val=2, num_test=2), **bad})
