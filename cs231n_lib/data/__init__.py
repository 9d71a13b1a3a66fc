"""Data sets of the course: a registry name -> module, with one `load` contract.

Every data set module has DESCRIPTION, CLASSES and

    load(num_train, num_val, num_test, seed, layout, dtype, ...) -> dict

returning X_train, y_train, X_val, y_val, X_test, y_test: X floats in [0, 1] in the
`layout` of `cs231n_lib.data.layout` ("flat", "nhwc" or "nchw"), y int64 labels that
index CLASSES (captions: y holds captions (N, L) of word indices, CLASSES is the
vocabulary, and the dict adds word_to_idx and idx_to_word; sequences: X and y are token
ids in the one layout "tokens"; points: X holds coordinates in [-1, 1], (N, P, 3) in
the layout "points" or occupancy grids (N, R, R, R) in "voxels"; video: X holds clips
(N, T, 1, H, W) in the layout "ntchw" or (N, 1, T, H, W) in "ncthw"). A module may take more
keyword arguments after these (digits: upsample; cifar10: data_dir). A notebook's setup
loads its data in one line:

    data = load(DATASET, num_train=config.pick(500, None), seed=SEED, layout="nchw")
"""

from __future__ import annotations

from types import ModuleType

from cs231n_lib.data import (
    captions,
    cifar10,
    cluttered_digits,
    digits,
    points,
    sequences,
    shapes,
    video,
)

REGISTRY: dict[str, ModuleType] = {
    "digits": digits,
    "cluttered_digits": cluttered_digits,
    "captions": captions,
    "sequences": sequences,
    "shapes": shapes,
    "points": points,
    "video": video,
    "cifar10": cifar10,
}
DATASETS = {name: module.DESCRIPTION for name, module in REGISTRY.items()}


def get(name: str) -> ModuleType:
    """The module of data set `name` (its CLASSES, DESCRIPTION, load, ...)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(REGISTRY)}")
    return REGISTRY[name]


def load(name: str, **kwargs) -> dict:
    """`get(name).load(**kwargs)`: the splits of data set `name` as a dict of arrays."""
    return get(name).load(**kwargs)
