"""cs231n_lib.data.captions: the vocabulary, the caption rule (checked on the words and on
the pixels), shapes and ranges, seeds that pin everything, and the helpers (the pinned
hashes are in test_data_registry.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cs231n_lib.data import captions as cap

SMALL = dict(num_train=300, num_val=20, num_test=20)


@pytest.fixture(scope="module")
def data():
    return cap.load(**SMALL, seed=0, layout="nhwc")


def test_the_vocabulary_is_fixed_with_the_special_tokens_first(data):
    assert cap.VOCAB[:4] == ("<NULL>", "<START>", "<END>", "<UNK>")
    assert data["idx_to_word"] == list(cap.VOCAB) and len(set(cap.VOCAB)) == len(cap.VOCAB)
    assert all(data["word_to_idx"][w] == i for i, w in enumerate(cap.VOCAB))
    words = {w for rel in cap.RELATIONS for w in rel.split()}
    words |= {"a", *cap.SIZES, *cap.COLOURS, *cap.SHAPES}
    assert set(cap.WORDS) == words
    # Not data dependent: another seed and size give the same vocabulary.
    assert cap.load(num_train=3, num_val=0, num_test=0, seed=5)["idx_to_word"] == list(cap.VOCAB)


def test_shapes_dtypes_and_ranges(data):
    for split, n in (("train", 300), ("val", 20), ("test", 20)):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        assert X.shape == (n, 32, 32, 3) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert y.shape == (n, cap.MAX_LENGTH) and y.dtype == np.int64
    other = cap.load(num_train=4, num_val=1, num_test=1, layout="nchw", dtype=np.float64)
    assert other["X_train"].shape == (4, 3, 32, 32) and other["X_train"].dtype == np.float64
    flat = cap.load(num_train=4, num_val=1, num_test=1, layout="flat")["X_train"]
    np.testing.assert_array_equal(cap.to_images(flat), data["X_train"][:4])
    np.testing.assert_array_equal(cap.to_images(other["X_train"]), data["X_train"][:4])


def test_captions_are_start_words_end_then_null_padding(data):
    y = data["y_train"]
    assert (y[:, 0] == cap.START).all()
    lengths = (y != cap.NULL).sum(axis=1)
    rows = np.arange(len(y))
    assert (y[rows, lengths - 1] == cap.END).all(), "<END> is not the last token before padding"
    assert set(lengths) == {6, 11, 12}  # one object; above/below; left of/right of
    after = np.arange(cap.MAX_LENGTH) >= lengths[:, None]
    assert (y[after] == cap.NULL).all() and (y[~after] != cap.NULL).all()
    assert not np.isin(y, [cap.UNK]).any()
    assert (np.isin(y[:, 1:], [cap.START]) == 0).all()


def _parse(text: str):
    words = text.split()
    first = tuple(words[1:4])
    if len(words) == 4:
        return first, None, None
    return first, " ".join(words[4:-4]), tuple(words[-3:])


def test_the_caption_rule_names_objects_in_the_documented_order(data):
    def key(obj):  # written from the module's docstring: large first, then SHAPES, COLOURS
        size, colour, shape = obj
        return (size != "large", cap.SHAPES.index(shape), cap.COLOURS.index(colour))

    texts = cap.decode_captions(data["y_train"], data["idx_to_word"])
    pairs = [_parse(t) for t in texts if len(t.split()) > 4]
    assert 0.45 < len(pairs) / len(texts) < 0.75, "about 60% of the images hold two objects"
    for first, rel, second in pairs:
        assert rel in cap.RELATIONS
        assert first != second, "two objects of an image share all three attributes"
        assert key(first) < key(second), f"{first} is named before {second}"
    assert {rel for _, rel, _ in pairs} == set(cap.RELATIONS)


def test_the_relation_word_matches_the_pixels():
    # Independent of the drawing code: find the objects as bright blobs, tell them apart by
    # their colour, and check where the first-named one lies.
    data = cap.load(num_train=400, num_val=0, num_test=0, seed=2, layout="nhwc")
    texts = cap.decode_captions(data["y_train"], cap.VOCAB)
    nominal = np.array([cap.RGB[c] for c in cap.COLOURS])
    checked = 0
    for image, text in zip(data["X_train"], texts, strict=True):
        first, rel, second = _parse(text)
        blobs, count = ndimage.label(image.max(axis=2) > 0.55)
        sizes = ndimage.sum_labels(np.ones(blobs.shape), blobs, range(1, count + 1))
        kept = [label + 1 for label, size in enumerate(sizes) if size >= 6]
        assert len(kept) == (1 if rel is None else 2), f"{text!r}: {len(kept)} objects drawn"
        if rel is None or first[1] == second[1]:
            continue
        centres = {}
        for label in kept:
            mask = blobs == label
            mean = image[mask].mean(axis=0)
            colour = cap.COLOURS[np.argmin(((nominal * 0.9 - mean) ** 2).sum(axis=1))]
            rows, cols = np.nonzero(mask)
            centres[colour] = np.array([cols.mean(), rows.mean()])  # (x, y)
        assert set(centres) == {first[1], second[1]}, f"{text!r}: colours {sorted(centres)}"
        dx, dy = centres[first[1]] - centres[second[1]]
        expected = {
            "left of": dx < -abs(dy),
            "right of": dx > abs(dy),
            "above": dy < -abs(dx),
            "below": dy > abs(dx),
        }
        assert expected[rel], f"{text!r} but the first object is at dx={dx:.1f}, dy={dy:.1f}"
        checked += 1
    assert checked > 150


def test_every_attribute_appears_and_sizes_differ_in_pixels(data):
    slots = cap.caption_slots(data["y_train"])
    for j, (name, choices) in enumerate(cap.SLOTS):
        counts = np.bincount(slots[:, j], minlength=len(choices) + 1)
        assert (counts[: len(choices)] > 0).all(), f"{name}: {counts}"
    # Single circles: large ones cover more pixels than small ones, always.
    X = data["X_train"]
    singles = (slots[:, 3] == len(cap.RELATIONS)) & (slots[:, 2] == cap.SHAPES.index("circle"))
    areas = (X[singles].max(axis=3) > 0.55).sum(axis=(1, 2))
    large = slots[singles, 0] == cap.SIZES.index("large")
    assert large.any() and (~large).any()
    assert areas[large].min() > areas[~large].max()


def test_seeds_pin_everything_and_splits_differ():
    a = cap.load(num_train=10, num_val=10, num_test=10, seed=4)
    b = cap.load(num_train=10, num_val=10, num_test=10, seed=4)
    c = cap.load(num_train=10, num_val=10, num_test=10, seed=5)
    for key in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["X_train"], c["X_train"])
    assert not np.array_equal(a["X_train"], a["X_val"])
    assert not np.array_equal(a["X_val"], a["X_test"])
    assert not np.array_equal(a["y_train"], a["y_test"])


def test_the_size_of_one_split_never_changes_another():
    # 300 > 256 images: the noise is drawn in blocks, and a longer split must extend it.
    small = cap.load(num_train=10, num_val=5, num_test=5, seed=7)
    large = cap.load(num_train=300, num_val=5, num_test=9, seed=7)
    np.testing.assert_array_equal(small["X_test"], large["X_test"][:5])
    np.testing.assert_array_equal(small["X_train"], large["X_train"][:10])
    np.testing.assert_array_equal(small["y_train"], large["y_train"][:10])
    longer = cap.load(num_train=520, num_val=0, num_test=0, seed=7)
    np.testing.assert_array_equal(longer["X_train"][:300], large["X_train"])


def test_decode_and_encode_round_trip(data):
    y = data["y_val"]
    texts = cap.decode_captions(y, data["idx_to_word"])
    assert all(t.startswith("a ") and "<" not in t for t in texts)
    np.testing.assert_array_equal(cap.encode_captions(texts, data["word_to_idx"]), y)
    assert cap.decode_captions(y[0], data["idx_to_word"]) == texts[:1]
    # Decoding stops at the first <END>; <NULL> and <START> are skipped wherever they are.
    w = data["word_to_idx"]
    row = [w["<START>"], w["a"], w["<NULL>"], w["red"], w["<END>"], w["blue"], w["<END>"]]
    assert cap.decode_captions(np.array([row]), data["idx_to_word"]) == ["a red"]
    unknown = cap.encode_captions(["a tiny red circle"], w)
    assert unknown[0, 2] == cap.UNK


def test_caption_slots_read_the_words_back(data):
    slots = cap.caption_slots(data["y_train"][:50])
    for row, text in zip(slots, cap.decode_captions(data["y_train"][:50], cap.VOCAB), strict=True):
        first, rel, second = _parse(text)
        words = [*first, rel, *(second or (None,) * 3)]
        for value, (_, choices), word in zip(row, cap.SLOTS, words, strict=True):
            assert value == (len(choices) if word is None else choices.index(word))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (dict(num_train=0), "num_train"),
        (dict(num_val=-1), "num_val"),
        (dict(num_test=2.5), "num_test"),
        (dict(num_train=True), "num_train"),
        (dict(layout="hwc"), "layout"),
        (dict(dtype=np.int32), "floating"),
    ],
)
def test_bad_arguments_are_refused_clearly(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cap.load(**{**dict(num_train=4, num_val=2, num_test=2), **bad})


def test_helpers_refuse_bad_input():
    with pytest.raises(ValueError, match="integer word indices"):
        cap.decode_captions(np.zeros((2, 3)), cap.VOCAB)
    with pytest.raises(ValueError, match=r"lie in \[0, 23\)"):
        cap.decode_captions(np.array([[1, 99]]), cap.VOCAB)
    with pytest.raises(ValueError, match="at most 10 fit"):
        cap.encode_captions([" ".join(["a"] * 11)], dict(zip(cap.VOCAB, range(23), strict=True)))
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        cap.to_images(np.zeros((2, 32, 32)))


def test_show_captions_draws_a_grid(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = cap.show_captions(data["X_val"][:4], data["y_val"][:4], predicted=data["y_val"][:4])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and all("ok: " in t for t in titles)
    plt.close(fig)
    with pytest.raises(ValueError, match="3 predicted captions for 4"):
        cap.show_captions(data["X_val"][:4], data["y_val"][:4], predicted=data["y_val"][:3])
