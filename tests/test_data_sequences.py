"""cs231n_lib.data.sequences: the vocabulary, both tasks checked against Python's own string
reversal and integer addition, lengths and padding, seeds and splits, and bad arguments
(the pinned hashes are in test_data_registry.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_lib import data
from cs231n_lib.data import sequences as seq

SMALL = dict(num_train=400, num_val=50, num_test=50)


@pytest.fixture(scope="module", params=seq.TASKS)
def task_data(request):
    return request.param, seq.load(**SMALL, seed=0, task=request.param, max_length=9)


def test_the_vocabulary_is_fixed_with_the_special_tokens_first():
    assert seq.VOCAB == ("<NULL>", "<START>", "<END>", "+", *"0123456789")
    assert seq.CLASSES == seq.VOCAB and seq.DIGIT0 == seq.VOCAB.index("0")
    d = seq.load(num_train=2, num_val=0, num_test=0, seed=3, task="add")
    assert d["idx_to_word"] == list(seq.VOCAB) and d["task"] == "add"
    assert all(d["word_to_idx"][w] == i for i, w in enumerate(seq.VOCAB))
    assert data.get("sequences") is seq


def _tokens(row):
    """The tokens of a padded source row, checking that only <NULL> follows them."""
    row = list(row)
    n = row.index(seq.NULL) if seq.NULL in row else len(row)
    assert all(t == seq.NULL for t in row[n:])
    return row[:n]


def test_targets_are_the_reversal_or_the_sum_of_the_sources(task_data):
    task, d = task_data
    for split in ("train", "val", "test"):
        X, y, lengths = d[f"X_{split}"], d[f"y_{split}"], d[f"lengths_{split}"]
        assert X.dtype == y.dtype == np.int64 and X.shape[1:] == (seq.shapes(task, 9)[0],)
        assert y.shape == (len(X), seq.shapes(task, 9)[1])
        sources, targets = seq.decode(X), seq.decode(y)
        for row, target_row, n, source, target in zip(X, y, lengths, sources, targets, strict=True):
            assert len(_tokens(row)) == n == len(source)
            assert target_row[0] == seq.START
            end = list(target_row).index(seq.END)
            assert end == len(target) + 1 and all(t == seq.NULL for t in target_row[end + 1 :])
            if task == "reverse":
                assert source.isdigit() and target == source[::-1]
            else:
                a, b = source.split("+")
                assert all(len(x) == 1 or x[0] != "0" for x in (a, b)), source
                assert target == str(int(a) + int(b))


def test_lengths_cover_the_range_uniformly():
    d = seq.load(num_train=3000, num_val=0, num_test=0, min_length=3, max_length=7)
    counts = np.bincount(d["lengths_train"], minlength=8)
    assert counts[:3].sum() == 0 and counts[3:].min() > 500  # 600 expected per length
    add = seq.load(num_train=3000, num_val=0, num_test=0, task="add", min_length=2, max_length=4)
    assert set(add["lengths_train"]) == set(range(5, 10))  # a + 1 + b digits


def test_seeds_pin_the_data_and_a_longer_split_extends_a_shorter_one():
    a = seq.load(num_train=30, num_val=5, num_test=5, seed=0)
    b = seq.load(num_train=60, num_val=9, num_test=5, seed=0)
    np.testing.assert_array_equal(b["X_train"][:30], a["X_train"])
    np.testing.assert_array_equal(b["X_test"], a["X_test"])  # other sizes, the same test set
    np.testing.assert_array_equal(b["y_val"][:5], a["y_val"])
    c = seq.load(num_train=30, num_val=5, num_test=5, seed=1)
    assert not np.array_equal(c["X_train"], a["X_train"])
    assert not np.array_equal(a["X_val"], a["X_test"])
    small = seq.load(num_train=4, num_val=0, num_test=0, dtype=np.int32)
    assert small["X_train"].dtype == small["y_train"].dtype == np.int32


def test_decode_stops_at_end_and_skips_padding():
    assert seq.decode(np.array([1, 5, 6, 2, 7, 0])) == "12"
    assert seq.decode(np.array([[4, 3, 13, 0], [0, 0, 0, 0]])) == ["0+9", ""]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(layout="nchw"), ValueError, "only layout='tokens'"),
        (dict(dtype=np.float32), TypeError, "integer type"),
        (dict(task="sort"), ValueError, "not one of"),
        (dict(min_length=5, max_length=4), ValueError, "exceeds"),
        (dict(min_length=0), ValueError, "positive integer"),
        (dict(task="add", max_length=19), ValueError, "max_length <= 18"),
        (dict(num_train=0), ValueError, "at least 1"),
        (dict(num_val=-1), ValueError, "non-negative"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        seq.load(**{"num_train": 2, "num_val": 1, "num_test": 1, **kwargs})
