"""Tests of cs231n_lib.data: the registry, the one `load` contract, and pinned data.

PINNED holds a hash of the first items of every split, per seed, for each data set that
loads offline. A change of the data (a generator, a split, a scaling) then fails here and
is never silent: if it is intended, measure the notebooks' targets again and update the hash.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np
import pytest

from cs231n_lib import data
from cs231n_lib.data.layout import LAYOUTS

CONTRACT = ("num_train", "num_val", "num_test", "seed", "layout", "dtype")
SPLITS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
# data set -> {seed: sha256 prefix of the first 8 items of each split}, with the sizes below.
SIZES = dict(num_train=16, num_val=8, num_test=8)
PINNED = {
    "digits": {0: "470e35cdf0375583", 1: "6d8c0cf626e86192"},
    # Frozen before 06/07's comparisons were measured on it (see the module's docstring).
    "cluttered_digits": {0: "9e125215d023b231", 1: "4581058dd4dda173"},
    # Frozen before 08's caption features and captioners were measured on it; y are captions.
    "captions": {0: "3979afa4dda8a00a", 1: "9b25305ffd3359c7"},
    # Frozen before 09's attention comparisons were measured on it; X and y are token ids.
    "sequences": {0: "b733a649660efb77", 1: "a7f33adc34aa41aa"},
}
# Data sets of token ids, not images: their own tests check layout and dtype.
TOKEN_DATA = {"sequences"}


def fingerprint(splits: dict) -> str:
    digest = hashlib.sha256()
    for key in SPLITS:
        digest.update(np.ascontiguousarray(splits[key][:8]).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(data.REGISTRY))
def test_every_data_set_follows_the_contract(name):
    module = data.get(name)
    assert isinstance(module.DESCRIPTION, str) and module.DESCRIPTION
    assert len(module.CLASSES) >= 2
    parameters = list(inspect.signature(module.load).parameters)
    assert parameters[: len(CONTRACT)] == list(CONTRACT), (
        f"{name}.load must start with the arguments {CONTRACT}, has {parameters}"
    )
    assert data.DATASETS[name] == module.DESCRIPTION


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown data set 'mnist'; choose one of"):
        data.load("mnist")


@pytest.mark.parametrize(("name", "seed"), [(n, s) for n in PINNED for s in PINNED[n]])
def test_pinned_data_is_unchanged(name, seed):
    splits = data.load(name, seed=seed, **SIZES)
    assert fingerprint(splits) == PINNED[name][seed], (
        f"{name} with seed {seed} is not the data the notebooks' targets were measured on"
    )


@pytest.mark.parametrize("name", sorted(set(PINNED) - TOKEN_DATA))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_offline_data_sets_give_unit_floats_in_every_layout(name, layout):
    splits = data.load(name, layout=layout, dtype=np.float32, **SIZES)
    for key in SPLITS:
        assert len(splits[key]) == SIZES[f"num_{key.split('_')[1]}"], key
    for key in ("X_train", "X_val", "X_test"):
        X = splits[key]
        assert X.dtype == np.float32 and 0.0 <= X.min() <= X.max() <= 1.0, key
        assert X.ndim == (2 if layout == "flat" else 4), (layout, X.shape)
    for key in ("y_train", "y_val", "y_test"):
        assert splits[key].dtype == np.int64
    other = data.load(name, seed=1, **SIZES)
    assert not np.array_equal(other["X_train"], data.load(name, seed=0, **SIZES)["X_train"])
