"""cs231n_lib.data.shapes: the load contract, the records against each other and against
the pixels, the rules of each variant measured on a few hundred scenes (recomputed here
from the full masks, not read from the generator's checks), determinism, pinned
fingerprints, and the pictures."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from scipy import ndimage

from cs231n_lib import data
from cs231n_lib.data import shapes as S

SMALL = dict(num_train=12, num_val=5, num_test=4)
SPLIT_KEYS = ("X", "y", "boxes", "labels", "instances", "semantic")


@pytest.fixture(scope="module")
def small():
    return S.load(**SMALL, seed=0)


@pytest.fixture(scope="module")
def hard_scenes():
    return [S.draw_scene(3, "train", i) for i in range(300)]


@pytest.fixture(scope="module")
def easy_scenes():
    return [S.draw_scene(3, "val", i, "easy") for i in range(200)]


# -- the contract ---------------------------------------------------------------------


def test_module_constants():
    assert len(S.CLASSES) == 5 and len(set(S.CLASSES)) == 5
    assert set(S.VARIANTS) == {"easy", "hard"} and S.VERSION == 1
    assert "shapes" in data.REGISTRY and data.get("shapes") is S
    assert isinstance(S.DESCRIPTION, str) and S.DESCRIPTION


@pytest.mark.parametrize("variant", ["hard", "easy"])
def test_shapes_dtypes_and_ranges(variant):
    d = S.load(**SMALL, seed=0, variant=variant)
    side = S.VARIANTS[variant].image_size
    for split in S.SPLITS:
        n = SMALL[f"num_{split}"]
        X, y = d[f"X_{split}"], d[f"y_{split}"]
        assert X.shape == (n, side, side, 3) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert y.shape == (n,) and y.dtype == np.int64
        assert ((0 <= y) & (y < len(S.CLASSES))).all()
        for key in ("instances", "semantic"):
            assert d[f"{key}_{split}"].shape == (n, side, side)
            assert d[f"{key}_{split}"].dtype == np.uint8
        assert len(d[f"boxes_{split}"]) == len(d[f"labels_{split}"]) == n
        for boxes, labels in zip(d[f"boxes_{split}"], d[f"labels_{split}"], strict=True):
            assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4
            assert labels.dtype == np.int64 and labels.shape == (len(boxes),)
            assert ((0 <= labels) & (labels < len(S.CLASSES))).all()
            assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= side).all()
            assert (boxes[:, 2:] > boxes[:, :2]).all(), "a box with no width or height"


def test_every_layout_and_dtype_holds_the_same_pixels(small):
    nchw = S.load(**SMALL, seed=0, layout="nchw", dtype=np.float64)
    flat = S.load(**SMALL, seed=0, layout="flat")
    assert nchw["X_train"].shape == (12, 3, 96, 96) and nchw["X_train"].dtype == np.float64
    assert flat["X_val"].shape == (5, 96 * 96 * 3) and flat["X_val"].flags.c_contiguous
    np.testing.assert_array_equal(S.to_images(nchw["X_train"]), small["X_train"])
    np.testing.assert_array_equal(S.to_images(flat["X_val"]), small["X_val"])
    np.testing.assert_array_equal(nchw["instances_test"], small["instances_test"])


def test_load_returns_the_scenes_of_draw_scene(small):
    for split in S.SPLITS:
        for i in (0, 3):
            scene = S.draw_scene(0, split, i)
            np.testing.assert_array_equal(small[f"X_{split}"][i], scene.image)
            np.testing.assert_array_equal(small[f"boxes_{split}"][i], scene.boxes)
            np.testing.assert_array_equal(small[f"labels_{split}"][i], scene.labels)
            np.testing.assert_array_equal(small[f"instances_{split}"][i], scene.instances)
            assert small[f"y_{split}"][i] == scene.label


# -- the records against each other ---------------------------------------------------


def _check_records(boxes, labels, instances, semantic, y):
    """Every record of one image against the instance map, computed here directly."""
    K = len(labels)
    assert set(np.unique(instances)) <= set(range(K + 1))
    areas = np.bincount(instances.ravel(), minlength=K + 1)[1:]
    assert (areas > 0).all(), "an object with no visible pixel"
    for k in range(K):
        rows, cols = np.nonzero(instances == k + 1)
        expected = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        np.testing.assert_array_equal(boxes[k], expected, err_msg=f"box of object {k}")
    lut = np.concatenate([[0], labels + 1])
    np.testing.assert_array_equal(semantic, lut[instances], err_msg="semantic != class + 1")
    largest = max(range(K), key=lambda k: (areas[k], -k))  # first drawn on a tie
    assert y == labels[largest], f"y={y}, the largest visible object is a {labels[largest]}"


@pytest.mark.parametrize("variant", ["hard", "easy"])
def test_boxes_semantic_and_y_agree_with_the_instance_map(variant):
    d = S.load(num_train=60, num_val=0, num_test=0, seed=2, variant=variant)
    for i in range(60):
        _check_records(
            d["boxes_train"][i],
            d["labels_train"][i],
            d["instances_train"][i],
            d["semantic_train"][i],
            d["y_train"][i],
        )


def _paint(scene):
    """The noise-free canvas of a scene repainted here: its background, then each object's
    full mask in its colour; with the instance map that painting order gives and each
    object's contrast with what was under it (the module docstring's C)."""
    canvas = scene.background.copy()
    instances = np.zeros(scene.instances.shape, dtype=np.int64)
    contrasts = []
    for k, mask in enumerate(scene.full_masks()):
        contrasts.append(np.abs(canvas[mask] - scene.colours[k]).mean())
        canvas[mask] = scene.colours[k]
        instances[mask] = k + 1
    return canvas, instances, np.array(contrasts)


def _grow(mask):
    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool))


def _sizes(scene):
    sizes = []
    for mask in scene.full_masks():
        rows, cols = np.nonzero(mask)
        sizes.append(max(np.ptp(rows), np.ptp(cols)) + 1)
    return np.array(sizes)


def test_the_image_is_the_painted_scene_plus_bounded_noise(hard_scenes):
    spec = S.VARIANTS["hard"]
    for scene in hard_scenes[:100]:
        canvas, instances, _ = _paint(scene)
        np.testing.assert_array_equal(scene.instances, instances, err_msg="painting order")
        assert spec.noise_std[0] <= scene.noise_std <= spec.noise_std[1]
        # The noise is a normal quantized within +-2.9 std; clipping only brings it closer.
        gap = np.abs(scene.image - np.clip(canvas, 0, 1)).max()
        assert gap <= 2.9 * scene.noise_std + 1e-5, (gap, scene.noise_std)
    noisy = [np.std(s.image - _paint(s)[0]) for s in hard_scenes[:100]]
    assert max(noisy) > 0.04, "the hard images carry visible pixel noise"


# -- the hard variant's guarantees ----------------------------------------------------


def test_hard_counts_sizes_and_classes(hard_scenes):
    counts = np.array([len(s.labels) for s in hard_scenes])
    assert counts.min() >= 1 and counts.max() <= 8
    assert set(counts) == set(range(1, 9)), f"counts {np.bincount(counts)}"
    sizes = np.concatenate([_sizes(s) for s in hard_scenes])
    assert sizes.min() >= 6 and sizes.max() <= 40, (sizes.min(), sizes.max())
    assert sizes.min() <= 7 and sizes.max() >= 39, "the sizes reach both ends of 6-40"
    assert all(s.image.shape == (96, 96, 3) for s in hard_scenes)
    labels = np.concatenate([s.labels for s in hard_scenes])
    share = np.bincount(labels, minlength=5) / len(labels)
    assert (share > 0.15).all(), f"class shares {share}"


def test_hard_occlusion_stays_within_40_percent(hard_scenes):
    hidden, occluded = [], 0
    for scene in hard_scenes:
        for k, mask in enumerate(scene.full_masks()):
            area, visible = mask.sum(), (scene.instances == k + 1).sum()
            assert visible >= min(15, area), f"object {k} keeps {visible} of {area} pixels"
            assert ((scene.instances == k + 1) <= mask).all(), "visible outside the shape"
            hidden.append(1 - visible / area)
            occluded += visible < area
    hidden = np.array(hidden)
    assert hidden.max() <= 0.4 + 1e-9, f"an object is {hidden.max():.0%} hidden"
    assert hidden.max() > 0.35 and occluded > 0.2 * len(hidden), "occlusion is exercised"


def test_hard_contrast_is_at_least_02_against_what_lies_under_and_around(hard_scenes):
    lowest = []
    for scene in hard_scenes:
        _, _, contrasts = _paint(scene)
        assert (contrasts >= 0.2 - 1e-6).all(), f"contrasts {contrasts}"
        lowest.append(contrasts.min())
        # Objects and distractors that overlap or touch differ in colour by >= 0.2.
        owners = [(m, c) for m, c in zip(scene.full_masks(), scene.colours, strict=True)]
        blobs = [(m, d[3]) for m, d in zip(_blob_masks(scene), scene.distractors, strict=True)]
        for k, (mask, colour) in enumerate(owners):
            # What lay visible under and around object k when it was drawn.
            covered = np.zeros_like(mask)
            for other, other_colour in [*reversed(owners[:k]), *reversed(blobs)]:
                seen = other & ~covered
                if (seen & _grow(mask)).any():
                    diff = np.abs(colour - other_colour).mean()
                    assert diff >= 0.2 - 1e-6, f"touching shapes differ by {diff:.3f} only"
                covered |= other
    assert min(lowest) < 0.22, "contrast goes down to 0.2"


def test_hard_backgrounds_are_textured_with_distractors(hard_scenes):
    with_blobs = 0
    for scene in hard_scenes:
        assert scene.background.std(axis=(0, 1)).max() > 0.01, "a plain hard background"
        assert len(scene.distractors) <= 4
        with_blobs += bool(scene.distractors)
        for _, _, mask, _ in scene.distractors:
            assert 9 <= max(mask.shape) <= 31, mask.shape
    assert with_blobs > 0.6 * len(hard_scenes)


def _blob_masks(scene):
    masks = np.zeros((len(scene.distractors), *scene.instances.shape), dtype=bool)
    for d, (top, left, mask, _) in enumerate(scene.distractors):
        masks[d, top : top + mask.shape[0], left : left + mask.shape[1]] = mask
    return masks


def test_distractors_are_unlabelled_and_objects_hide_at_most_40_percent_of_them(hard_scenes):
    covered = 0
    for scene in hard_scenes:
        objects = scene.full_masks().any(axis=0)
        blobs = _blob_masks(scene)
        for d, full in enumerate(blobs):
            assert (scene.instances[full & ~objects] == 0).all()
            assert (scene.semantic[full & ~objects] == 0).all()
            unhidden = full & ~blobs[d + 1 :].any(axis=0)  # by the blobs drawn after it
            if (unhidden & objects).any():  # an object covers it: the occlusion rule holds
                seen = unhidden & ~objects
                assert seen.sum() >= min(15, full.sum())
                assert 1 - seen.sum() / full.sum() <= 0.4 + 1e-9, "a blob hidden too much"
                covered += 1
    assert covered > 50, "objects do cover distractors"


def _elongation(mask):
    """sqrt of the ratio of the small to the large eigenvalue of the pixels' covariance:
    1 for a shape with 3-fold or higher symmetry, small for a long one."""
    rows, cols = np.nonzero(mask)
    low, high = np.linalg.eigvalsh(np.cov(np.stack([rows, cols]).astype(float)))
    return np.sqrt(low / high)


def _class_of(mask):
    """The class a shape of >= 12 px is, read from its pixels alone: a ring has a hole, a
    cross is far from convex, and a circle, a square and a triangle fill a decreasing share
    of the disk around their centroid (1, 2/pi, 0.41 for ideal shapes)."""
    from skimage.morphology import convex_hull_image

    if ndimage.binary_fill_holes(mask).sum() > mask.sum():
        return "ring"
    if mask.sum() / convex_hull_image(mask).sum() < 0.83:
        return "cross"
    rows, cols = np.nonzero(mask)
    radius = np.sqrt(((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2).max()) + 0.5
    fill = mask.sum() / (np.pi * radius**2)
    return "circle" if fill > 0.8 else "square" if fill > 0.52 else "triangle"


def test_each_shape_is_the_class_its_label_names(hard_scenes, easy_scenes):
    checked = 0
    for scene in [*hard_scenes, *easy_scenes]:
        for label, mask in zip(scene.labels, scene.full_masks(), strict=True):
            assert _elongation(mask) > 0.75, "an object as elongated as a distractor"
            if max(np.ptp(np.nonzero(mask)[0]), np.ptp(np.nonzero(mask)[1])) + 1 >= 12:
                assert _class_of(mask) == S.CLASSES[label]
                checked += 1
        for _, _, mask, _ in scene.distractors:
            assert _elongation(mask) < 0.65, "a distractor as round as a shape of a class"
    assert checked > 1000


# -- the easy variant's guarantees ----------------------------------------------------


def test_easy_scenes_are_separate_large_shapes_on_a_plain_background(easy_scenes):
    counts = np.array([len(s.labels) for s in easy_scenes])
    assert set(counts) == {1, 2, 3, 4}
    sizes = np.concatenate([_sizes(s) for s in easy_scenes])
    assert sizes.min() >= 12 and sizes.max() <= 32 and sizes.max() >= 30, (sizes.min(), sizes.max())
    for scene in easy_scenes:
        assert scene.image.shape == (64, 64, 3) and not scene.distractors
        assert scene.noise_std <= 0.02
        assert (scene.background == scene.background[0, 0]).all(), "a plain background"
        masks = scene.full_masks()
        canvas, instances, contrasts = _paint(scene)
        np.testing.assert_array_equal(scene.instances, instances)
        assert (contrasts >= 0.5 - 1e-6).all(), f"contrasts {contrasts}"
        for k, mask in enumerate(masks):
            assert (scene.instances == k + 1).sum() == mask.sum(), "an easy object is hidden"
            for other in masks[:k]:
                assert not (_grow(mask) & other).any(), "two easy objects touch"


# -- determinism and pinned data ------------------------------------------------------


def test_seeds_pin_everything_and_splits_variants_and_seeds_differ(small):
    again = S.load(**SMALL, seed=0)
    for split in S.SPLITS:
        for key in SPLIT_KEYS:
            a, b = small[f"{key}_{split}"], again[f"{key}_{split}"]
            if isinstance(a, list):
                assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
            else:
                np.testing.assert_array_equal(a, b)
    other = S.load(**SMALL, seed=1)
    assert not np.array_equal(small["X_train"], other["X_train"])
    assert not np.array_equal(small["X_train"][:4], small["X_val"][:4])
    assert not np.array_equal(small["X_val"][:4], small["X_test"][:4])
    easy = S.load(**SMALL, seed=0, variant="easy")
    assert easy["X_train"].shape[1] == 64


def test_a_prefix_of_a_split_is_the_same_whatever_the_sizes(monkeypatch):
    short = S.load(num_train=3, num_val=2, num_test=1, seed=4)
    monkeypatch.setattr(S, "_CHUNK", 4)  # chunk borders inside the split change nothing
    long = S.load(num_train=10, num_val=6, num_test=5, seed=4)
    for split, n in (("train", 3), ("val", 2), ("test", 1)):
        np.testing.assert_array_equal(short[f"X_{split}"], long[f"X_{split}"][:n])
        np.testing.assert_array_equal(short[f"instances_{split}"], long[f"instances_{split}"][:n])
        for key in ("boxes", "labels"):
            for a, b in zip(short[f"{key}_{split}"], long[f"{key}_{split}"][:n], strict=True):
                np.testing.assert_array_equal(a, b)


def fingerprint(splits: dict, count: int = 20) -> str:
    """sha256 (first 16 hex digits) of the first `count` images of every split: pixels
    (float32, nhwc), box counts, boxes, labels and instance maps."""
    digest = hashlib.sha256()
    for split in S.SPLITS:
        digest.update(np.ascontiguousarray(splits[f"X_{split}"][:count], np.float32).tobytes())
        boxes, labels = splits[f"boxes_{split}"][:count], splits[f"labels_{split}"][:count]
        digest.update(np.array([len(b) for b in boxes], dtype=np.int64).tobytes())
        digest.update(np.concatenate(boxes).astype(np.float32).tobytes())
        digest.update(np.concatenate(labels).astype(np.int64).tobytes())
        digest.update(np.ascontiguousarray(splits[f"instances_{split}"][:count]).tobytes())
    return digest.hexdigest()[:16]


# (VERSION, variant, seed) -> fingerprint of load(num_train=20, num_val=20, num_test=20).
# A change of the drawing fails here: bump S.VERSION, then measure and pin again.
PINNED = {
    (1, "hard", 0): "5c0d1c7b40df6590",
    (1, "hard", 1): "1e9cbf0a8036cef2",
    (1, "easy", 0): "83e227d8abef8f10",
    (1, "easy", 1): "1eaa45625c9286bd",
}


@pytest.mark.parametrize(("variant", "seed"), [(v, s) for _, v, s in PINNED])
def test_pinned_data_is_unchanged(variant, seed):
    splits = S.load(num_train=20, num_val=20, num_test=20, seed=seed, variant=variant)
    key = (S.VERSION, variant, seed)
    assert key in PINNED, f"VERSION {S.VERSION} has no pinned fingerprint: pin {key}"
    assert fingerprint(splits) == PINNED[key], (
        f"shapes ({variant}, seed {seed}) are not the scenes VERSION {S.VERSION} was "
        f"frozen with: bump VERSION if the drawing changed on purpose"
    )


def test_drawing_is_cheap():
    # A loose guard (the measured cost is about 2 ms an image on one core): 30 ms an image
    # would make fast-mode notebooks spend their time drawing instead of learning.
    start = time.process_time()
    S.load(num_train=100, num_val=0, num_test=0, seed=9)
    elapsed = time.process_time() - start
    assert elapsed < 3.0, f"100 hard scenes took {elapsed:.1f} s of CPU"


# -- errors and pictures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (dict(variant="medium"), ValueError, r"variant='medium' is not one of \['easy', 'hard'\]"),
        (dict(num_train=0), ValueError, "num_train"),
        (dict(num_val=-1), ValueError, "num_val"),
        (dict(num_test=2.5), ValueError, "num_test"),
        (dict(layout="hwc"), ValueError, "layout"),
        (dict(dtype=np.int32), TypeError, "floating"),
        (dict(seed=-1), ValueError, "seed must be a non-negative integer"),
        (dict(seed=1.5), ValueError, "seed"),
    ],
)
def test_bad_arguments_are_refused_clearly(bad, error, match):
    with pytest.raises(error, match=match):
        S.load(**{**dict(num_train=2, num_val=1, num_test=1), **bad})


def test_draw_scene_and_to_images_refuse_bad_input():
    with pytest.raises(ValueError, match="split='dev' is not one of"):
        S.draw_scene(0, "dev", 0)
    with pytest.raises(ValueError, match="variant="):
        S.draw_scene(0, "train", 0, variant="HARD")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        S.to_images(np.zeros((2, 96, 96)))
    with pytest.raises(ValueError, match="square image"):
        S.to_images(np.zeros((2, 100)))


def test_show_scenes_draws_boxes_names_scores_and_masks(small):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    X, boxes, labels = small["X_val"][:3], small["boxes_val"][:3], small["labels_val"][:3]
    scores = [np.linspace(0.9, 0.5, len(b)) for b in boxes]
    fig = S.show_scenes(X, boxes, labels, scores=scores, ncols=2)
    for ax, box, label in zip(fig.axes, boxes, labels, strict=False):
        rectangles = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(rectangles) == len(box)
        x1, y1, x2, y2 = box[0]
        assert rectangles[0].get_xy() == (x1 - 0.5, y1 - 0.5)
        assert rectangles[0].get_width() == x2 - x1
        texts = [t.get_text() for t in ax.texts]
        assert texts[0] == f"{S.CLASSES[label[0]]} 0.90"
    plt.close(fig)
    instances = small["instances_val"][:3]
    fig = S.show_scenes(np.ascontiguousarray(X.transpose(0, 3, 1, 2)), masks=instances)
    assert all(len(ax.images) == 2 for ax in fig.axes[:3]), "an image and its overlay"
    overlay = fig.axes[0].images[1].get_array()
    np.testing.assert_array_equal(overlay[..., 3] > 0, instances[0] > 0)
    plt.close(fig)
    stacks = [np.stack([instances[i] == k + 1 for k in range(len(boxes[i]))]) for i in range(3)]
    fig = S.show_scenes(X, masks=stacks)
    np.testing.assert_array_equal(fig.axes[1].images[1].get_array()[..., 3] > 0, instances[1] > 0)
    plt.close(fig)
    with pytest.raises(ValueError, match="got 2 boxes for 3 images"):
        S.show_scenes(X, boxes[:2])
    with pytest.raises(ValueError, match="pass boxes too"):
        S.show_scenes(X, labels=labels)
    with pytest.raises(ValueError, match=f"image 0: 0 labels for {len(boxes[0])} boxes"):
        S.show_scenes(X, boxes, [lab[:0] for lab in labels])
    with pytest.raises(ValueError, match="a mask must be"):
        S.show_scenes(X, masks=np.zeros((3, 10, 10), dtype=np.uint8))
    plt.close("all")
