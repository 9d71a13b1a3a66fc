"""cs231n_lib.data.video: the load contract, the actor's rasterization against an
independent point-in-polygon test, each class's motion read from its track, identical
single-frame statistics across classes (and a per-frame classifier at chance), the shifted
timing, determinism and pinned fingerprints."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from matplotlib.path import Path
from scipy import stats
from sklearn.linear_model import LogisticRegression

from cs231n_lib import data
from cs231n_lib.data import video as VD

SMALL = dict(num_train=12, num_val=5, num_test=4)
BAND = (VD.MARGIN, VD.SIZE - VD.MARGIN)
LENGTH = BAND[1] - BAND[0]


@pytest.fixture(scope="module")
def small():
    return {v: VD.load(**SMALL, seed=0, variant=v) for v in VD.VARIANTS}


@pytest.fixture(scope="module")
def tracks():
    """Tracks of 4,400 easy clips (about 400 per class) and 1,100 shifted ones."""
    return VD.load(num_train=4400, num_val=0, num_test=0, seed=3), VD.load(
        num_train=1100, num_val=0, num_test=0, seed=3, variant="shifted"
    )


# -- the contract ---------------------------------------------------------------------


def test_module_constants_and_registry():
    assert len(VD.CLASSES) == 11 and len(set(VD.CLASSES)) == 11
    assert set(VD.VARIANTS) == {"easy", "hard", "shifted"} and VD.VERSION == 1
    assert len({v.key for v in VD.VARIANTS.values()}) == 3
    assert data.get("video") is VD and data.DATASETS["video"] == VD.DESCRIPTION


@pytest.mark.parametrize("variant", sorted(VD.VARIANTS))
def test_shapes_dtypes_and_ranges(small, variant):
    d = small[variant]
    assert d["classes"] == VD.CLASSES
    for split in VD.SPLITS:
        n = SMALL[f"num_{split}"]
        X = d[f"X_{split}"]
        assert X.shape == (n, 16, 1, 32, 32) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() <= 1.0
        y = d[f"y_{split}"]
        assert y.shape == (n,) and y.dtype == np.int64 and ((0 <= y) & (y < 11)).all()
        assert d[f"centres_{split}"].shape == (n, 16, 2)
        for key in ("angles", "kinds", "shades"):
            assert d[f"{key}_{split}"].shape == (n, 16), key
        assert d[f"kinds_{split}"].dtype == np.int64
        assert set(np.unique(d[f"shades_{split}"])) <= set(np.float32(VD.SHADES))
        assert d[f"starts_{split}"].shape == (n,) and d[f"speed_factors_{split}"].shape == (n,)


def test_layouts_dtype_and_length_options():
    a = VD.load(num_train=3, num_val=0, num_test=0, variant="hard")
    b = VD.load(num_train=3, num_val=0, num_test=0, variant="hard", layout="ncthw")
    np.testing.assert_array_equal(b["X_train"], a["X_train"].transpose(0, 2, 1, 3, 4))
    c = VD.load(num_train=3, num_val=0, num_test=0, variant="hard", dtype=np.float64)
    assert c["X_train"].dtype == np.float64
    np.testing.assert_allclose(c["X_train"], a["X_train"], atol=1e-7)
    long = VD.load(num_train=3, num_val=1, num_test=0, variant="hard", num_frames=24)
    assert long["X_train"].shape == (3, 24, 1, 32, 32) and long["centres_train"].shape == (3, 24, 2)
    empty = VD.load(num_train=2, num_val=0, num_test=0)
    assert empty["X_val"].shape == (0, 16, 1, 32, 32) and empty["centres_val"].shape == (0, 16, 2)


def test_load_returns_the_clips_of_draw_clip(small):
    for variant, d in small.items():
        for split in ("train", "test"):
            clip = VD.draw_clip(0, split, 2, variant)
            np.testing.assert_array_equal(d[f"X_{split}"][2, :, 0], clip.frames)
            assert d[f"y_{split}"][2] == clip.label
            np.testing.assert_array_equal(d[f"centres_{split}"][2], clip.centres)


def test_prefixes_are_stable_and_splits_and_seeds_independent(small):
    big = VD.load(num_train=20, num_val=2, num_test=9, seed=0, variant="hard")
    d = small["hard"]
    np.testing.assert_array_equal(big["X_train"][:12], d["X_train"])
    np.testing.assert_array_equal(big["X_test"][:4], d["X_test"])
    assert not np.array_equal(big["X_val"][:2], big["X_test"][:2])
    other = VD.load(**SMALL, seed=1, variant="hard")
    assert not np.array_equal(other["X_train"], d["X_train"])
    assert not np.array_equal(small["easy"]["centres_train"], d["centres_train"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(variant="medium"), "variant='medium' is not one of"),
        (dict(layout="nchw"), "layout='nchw' is not one of"),
        (dict(num_frames=1), "num_frames must be an integer >= 2"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(num_train=0), "num_train must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VD.load(**{**dict(num_train=2, num_val=0, num_test=0), **kwargs})


def test_bad_dtype_split_and_kind_are_refused():
    with pytest.raises(TypeError, match="floating"):
        VD.load(num_train=1, num_val=0, num_test=0, dtype=np.int32)
    with pytest.raises(ValueError, match="split='dev'"):
        VD.draw_clip(0, "dev", 0)
    with pytest.raises(ValueError, match="kind='square'"):
        VD.actor_coverage("square", (16, 16), 0.0, 4.0)


# -- drawing --------------------------------------------------------------------------


def _polygon(kind, centre, angle, scale):
    xy = np.asarray(VD.KINDS[kind]) * scale
    c, s = math.cos(angle), math.sin(angle)
    rows = centre[0] + xy[:, 0] * s + xy[:, 1] * c
    cols = centre[1] + xy[:, 0] * c - xy[:, 1] * s
    return rows, cols


def test_actor_coverage_matches_a_point_in_polygon_test_at_the_sub_pixels():
    rng = np.random.default_rng(0)
    k = VD.SUBPIXELS
    samples = (np.arange(VD.SIZE * k) + 0.5) / k
    grid = np.stack(np.meshgrid(samples, samples, indexing="ij"), -1).reshape(-1, 2)
    for i in range(24):
        kind = VD.KIND_NAMES[i % 4]
        centre, angle, scale = rng.uniform(4, 28, 2), rng.uniform(0, 2 * np.pi), 4.5
        got = VD.actor_coverage(kind, centre, angle, scale)
        rows, cols = _polygon(kind, centre, angle, scale)
        inside = Path(np.stack([rows, cols], 1)).contains_points(grid)
        expected = inside.reshape(VD.SIZE, k, VD.SIZE, k).mean(axis=(1, 3))
        # Pillow also fills the sub-pixels the outline touches: the two may differ only
        # along the boundary, by at most a sub-pixel strip of the perimeter.
        perimeter = np.hypot(np.diff(rows, append=rows[0]), np.diff(cols, append=cols[0])).sum()
        far = np.abs(got - expected) > 0
        assert np.all(got >= 0) and np.all(got <= 1)
        assert abs(got.sum() - expected.sum()) <= perimeter * 1.0 / k, (
            kind,
            got.sum(),
            expected.sum(),
        )
        assert far.sum() <= 2 * perimeter, (
            f"{kind}: {far.sum()} pixels differ away from the outline"
        )
        centroid = [
            np.sum(c.sum(axis) * (np.arange(VD.SIZE) + 0.5)) / c.sum()
            for c in (got, expected)
            for axis in (1, 0)
        ]
        assert np.allclose(centroid[:2], centroid[2:], atol=0.15), (
            f"{kind}: coverage centred at {centroid[:2]}, the polygon at {centroid[2:]}: check the "
            f"mapping of pixel coordinates to Pillow's sub-pixel grid"
        )


def test_no_kind_looks_the_same_after_a_rotation_short_of_a_full_turn():
    for kind in VD.KIND_NAMES:
        base = VD.actor_coverage(kind, (16, 16), 0.0, 5.0)
        for degrees in range(30, 360, 30):
            turned = VD.actor_coverage(kind, (16, 16), math.radians(degrees), 5.0)
            assert np.abs(turned - base).sum() > 8, (kind, degrees)


def test_frames_show_the_actor_where_its_track_says(small):
    d = VD.load(num_train=30, num_val=0, num_test=0, seed=0)  # easy: background 0.15
    for X, centres, shades in zip(
        d["X_train"][:, :, 0], d["centres_train"], d["shades_train"], strict=True
    ):
        for t in (0, 7, 15):
            mask = X[t] > 0.3
            rows, cols = np.nonzero(mask)
            assert (
                abs(rows.mean() + 0.5 - centres[t, 0]) < 2.5
                and abs(cols.mean() + 0.5 - centres[t, 1]) < 2.5
            )
            assert abs(np.percentile(X[t][mask], 90) - shades[t]) < 0.02


# -- the classes' motion --------------------------------------------------------------


def _by_class(d, name):
    return d["y_train"] == VD.CLASSES.index(name)


def test_slides_move_their_way_at_a_steady_speed_and_wrap(tracks):
    d, _ = tracks
    for name, axis, sign in [("right", 1, 1), ("left", 1, -1), ("down", 0, 1), ("up", 0, -1)]:
        c = d["centres_train"][_by_class(d, name)]
        step = np.diff(c[:, :, axis], axis=1)
        wrapped = np.abs(step) > LENGTH / 2
        forward = np.where(wrapped, step + sign * LENGTH, step) * sign
        assert np.all((forward > 1.49) & (forward < 2.51)), name
        assert np.ptp(forward, axis=1).max() < 1e-4, f"{name}: the speed changes within a clip"
        assert np.all(wrapped.any(axis=1)), f"{name}: some clips never wrap"
        np.testing.assert_allclose(np.ptp(c[:, :, 1 - axis], axis=1), 0, atol=1e-5)


def test_bounce_turns_back_inside_the_band_in_every_clip(tracks):
    d, _ = tracks
    c = d["centres_train"][_by_class(d, "bounce")]
    assert c[:, :, 1].min() >= BAND[0] - 1e-4 and c[:, :, 1].max() <= BAND[1] + 1e-4
    step = np.diff(c[:, :, 1], axis=1)
    assert np.all(np.abs(step) < 2.51)  # never a jump
    turns = np.sum(np.diff(np.sign(step), axis=1) != 0, axis=1)
    assert np.all(turns >= 1), "a bounce clip without a bounce"
    np.testing.assert_allclose(np.ptp(c[:, :, 0], axis=1), 0, atol=1e-5)


def test_rotations_turn_their_way_in_place(tracks):
    d, _ = tracks
    for name, sign in [("clockwise", 1), ("counterclockwise", -1)]:
        mask = _by_class(d, name)
        rate = np.diff(d["angles_train"][mask], axis=1) * sign
        assert np.all((rate > math.radians(19.9)) & (rate < math.radians(35.1))), name
        np.testing.assert_allclose(np.ptp(d["centres_train"][mask], axis=1), 0, atol=1e-5)


def _changes(values):
    """(N, T) -> (N, T - 1) bool: where the value changes from one frame to the next."""
    return np.diff(values, axis=1) != 0


@pytest.mark.parametrize("which", [0, 1])
def test_each_change_class_changes_as_its_name_says(tracks, which):
    d = tracks[which]  # normal timing, then the shifted one
    kinds, shades = d["kinds_train"], d["shades_train"]
    for name in ("shape_then_shade", "shade_then_shape", "periodic", "one_off"):
        mask = _by_class(d, name)
        k, s = _changes(kinds[mask]), _changes(shades[mask])
        if name == "periodic":
            assert np.all(k.sum(1) >= 2) and not s.any(), name
            assert all(len(np.unique(row)) == 2 for row in kinds[mask]), "two kinds, back and forth"
        elif name == "one_off":
            assert np.all(k.sum(1) == 1) and not s.any(), name
        else:
            assert np.all(k.sum(1) == 1) and np.all(s.sum(1) == 1), name
            kind_first = k.argmax(1) < s.argmax(1)
            assert np.all(kind_first == (name == "shape_then_shade")), name
    static = np.isin(d["y_train"], [VD.CLASSES.index(n) for n in VD.CLASSES[:7]])
    assert not _changes(kinds[static]).any() and not _changes(shades[static]).any()


def test_shifted_clips_hold_still_then_run_at_half_or_double_speed(tracks):
    _, d = tracks
    starts, factors = d["starts_train"], d["speed_factors_train"]
    assert set(np.unique(starts)) == {0, 1, 2, 3, 4}
    assert set(np.unique(factors)) == {0.5, 2.0}
    mask = _by_class(d, "right")
    for c, start, factor in zip(d["centres_train"][mask], starts[mask], factors[mask], strict=True):
        cols = c[:, 1]
        np.testing.assert_allclose(cols[: start + 1], cols[0], atol=1e-5)
        step = np.diff(cols[start:])
        step = np.where(step < -LENGTH / 2, step + LENGTH, step)
        assert np.all((step > 1.49 * factor) & (step < 2.51 * factor))


# -- a single frame tells nothing -------------------------------------------------------


def test_single_frame_statistics_are_the_same_in_every_class(tracks):
    d, _ = tracks
    y = d["y_train"]
    for t in (0, 9, 15):
        for axis in (0, 1):
            u = (d["centres_train"][:, t, axis] - BAND[0]) / LENGTH
            for label in range(11):
                p = stats.kstest(u[y == label], "uniform").pvalue
                assert p > 1e-4, f"{VD.CLASSES[label]} centre axis {axis} frame {t}: p = {p:.2g}"
        angle = np.mod(d["angles_train"][:, t], 2 * np.pi) / (2 * np.pi)
        for key, values, levels in (
            ("kinds", d["kinds_train"][:, t], np.arange(4)),
            ("shades", d["shades_train"][:, t], np.float32(VD.SHADES)),
        ):
            table = np.array(
                [[np.sum((y == c) & (values == v)) for v in levels] for c in range(11)]
            )
            p = stats.chi2_contingency(table).pvalue
            assert p > 1e-4, f"{key} at frame {t} depend on the class (p = {p:.2g})"
        for label in range(11):
            assert stats.kstest(angle[y == label], "uniform").pvalue > 1e-4, (VD.CLASSES[label], t)


def test_a_per_frame_classifier_stays_at_chance():
    d = VD.load(num_train=2200, num_val=0, num_test=1100, seed=5, variant="hard")
    for t in (0, 8):
        train, test = (d[key][:, t, 0].reshape(len(d[key]), -1) for key in ("X_train", "X_test"))
        model = LogisticRegression(max_iter=200, C=0.1).fit(train, d["y_train"])
        accuracy = model.score(test, d["y_test"])
        # chance 1/11 = 0.091; 1,100 test clips give a std of 0.009
        assert accuracy < 0.13, f"frame {t} alone predicts the class ({accuracy:.3f} > chance)"


# -- pinned ---------------------------------------------------------------------------

# Frozen before 14_video's models were measured on it.
PINNED = {"easy": "3427fa596f12e71f", "hard": "7d2ccbb3cd46ee3f", "shifted": "6dae067298614734"}


def _fingerprint(d) -> str:
    digest = hashlib.sha256()
    for split in VD.SPLITS:
        digest.update(np.round(d[f"X_{split}"].astype(np.float64), 4).tobytes())
        digest.update(d[f"y_{split}"].tobytes())
        digest.update(np.round(d[f"centres_{split}"].astype(np.float64), 4).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("variant", sorted(PINNED))
def test_pinned_data_is_unchanged(small, variant):
    assert _fingerprint(small[variant]) == PINNED[variant], (
        f"video {variant} is not the data 14_video's targets were measured on: if the change "
        f"is meant, bump VERSION, measure again and update PINNED"
    )
