"""cs231n_lib.blocks.sample_scorer: deterministic training by seed, the cache (reused, atomic,
locked, damaged, in a read-only or unwritable data dir), the scores' shapes and layouts,
the Frechet distances against metrics.generative, and (one full training, seconds) the
accuracy and confidence the notebooks rely on."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cs231n_lib.blocks import sample_scorer as ss
from cs231n_lib.data import digits
from cs231n_lib.metrics import generative as G

TINY = {"num_epochs": 1, "batch_size": 256, "learning_rate": 3e-3, "weight_decay": 1e-4}
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A data dir of its own, one epoch of training, an empty in-process cache, the CPU."""
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CS231N_DEVICE", "cpu")
    monkeypatch.setattr(ss, "TRAINING", TINY)
    monkeypatch.setattr(ss, "_IN_MEMORY", {})
    return tmp_path / "data"


@pytest.fixture(scope="module")
def split():
    return digits.load(seed=ss.DATA_SEED, layout="nchw", dtype=np.float32)


def test_training_is_deterministic_by_seed_and_leaves_torch_rng_alone(split):
    X, y = split["X_train"][:300], split["y_train"][:300]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = (ss.train_scorer(X, y, seed=s, num_epochs=1) for s in (0, 0, 1))
    assert torch.rand(1) == before, "training moved torch's global generator"
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.head.weight, c.head.weight)
    assert not a.training and next(a.parameters()).device.type == "cpu"


def test_the_cache_is_written_once_and_reused(tiny, monkeypatch):
    model = ss.scorer(seed=0)
    path = ss.cache_path(0)
    assert path.is_file() and path.parent == tiny
    assert f"digits{ss.DATA_SEED}_model{ss.MODEL_VERSION}_seed0" in path.name
    assert not list(tiny.glob("*.tmp")), "a temporary file was left behind"
    assert ss.scorer(seed=0) is model  # kept in the process

    def no_training(*args):
        raise AssertionError("trained again although the cache holds the weights")

    monkeypatch.setattr(ss, "_IN_MEMORY", {})
    monkeypatch.setattr(ss, "_train", no_training)
    again = ss.scorer(seed=0)
    assert torch.equal(again.head.weight.cpu(), model.head.weight.cpu())
    assert ss.warm_cache(0)


def test_a_damaged_cache_is_trained_again(tiny):
    tiny.mkdir(parents=True)
    ss.cache_path(0).write_bytes(b"not a state dict")
    model = ss.scorer(seed=0)
    state = torch.load(ss.cache_path(0), weights_only=True)
    assert torch.equal(state["head.weight"], model.head.weight.cpu())


def test_a_cache_in_a_directory_that_refuses_writes_is_loaded(tiny, monkeypatch):
    model = ss.scorer(seed=0)

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    def no_training(*args):
        raise AssertionError("trained again although the cache holds the weights")

    monkeypatch.setattr(ss, "_IN_MEMORY", {})
    monkeypatch.setattr(ss, "open", refuse, raising=False)  # the lock file cannot be made
    monkeypatch.setattr(ss, "_train", no_training)
    assert torch.equal(ss.scorer(seed=0).head.weight.cpu(), model.head.weight.cpu())


def test_an_unwritable_data_dir_trains_in_memory(tiny, monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("CS231N_DATA", str(blocker / "data"))  # a folder inside a file
    model = ss.scorer(seed=2)
    assert isinstance(model, ss.DigitScorer)
    assert ss.scorer(seed=2) is model


def _bwrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    run = subprocess.run(
        ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"],
        capture_output=True,
    )
    return run.returncode == 0


@pytest.mark.skipif(not _bwrap_works(), reason="needs bubblewrap for a read-only mount")
def test_a_read_only_mount_loads_its_cache_or_trains_in_memory(tiny, tmp_path):
    # As the grader's sandboxed kernels see the data dir: mounted read-only (root too).
    ss.scorer(seed=0)  # fills tiny with the cache of seed 0, none for seed 5
    script = textwrap.dedent(
        f"""
        import torch
        from cs231n_lib.blocks import sample_scorer as ss
        ss.TRAINING = {TINY!r}
        real_train = ss._train
        calls = []
        ss._train = lambda seed: calls.append(seed) or real_train(seed)
        cached = ss.scorer(seed=0)
        fresh = ss.scorer(seed=5)
        want = torch.load(ss.cache_path(0), weights_only=True)["head.weight"]
        assert torch.equal(cached.head.weight.cpu(), want), "seed 0 not loaded from the cache"
        assert calls == [5], calls
        assert not ss.cache_path(5).exists()
        print("ok")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        ["bwrap", "--bind", "/", "/", "--ro-bind", str(tiny), str(tiny)]
        + ["--dev", "/dev", "--proc", "/proc", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]


def test_scores_have_the_documented_shapes_in_any_layout(tiny, split):
    X = split["X_val"][:7]  # (7, 1, 8, 8)
    scores = ss.score_samples(X, batch_size=3)
    assert set(scores) == {"probabilities", "features", "coverage", "confidence"}
    assert scores["probabilities"].shape == (7, 10)
    assert scores["features"].shape == (7, ss.FEATURE_DIM) and (scores["features"] >= 0).all()
    np.testing.assert_allclose(scores["probabilities"].sum(axis=1), 1, rtol=1e-9)
    np.testing.assert_allclose(scores["coverage"], G.class_coverage(scores["probabilities"]))
    assert scores["confidence"] == pytest.approx(G.mean_confidence(scores["probabilities"]))
    for layout in (X.reshape(7, 64), X[:, 0], X.transpose(0, 2, 3, 1), torch.from_numpy(X)):
        again = ss.score_samples(layout)
        np.testing.assert_allclose(again["probabilities"], scores["probabilities"], rtol=1e-6)


def test_bad_images_are_refused(tiny):
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        ss.score_samples(np.full((3, 64), -1.0))  # a tanh output, not rescaled
    with pytest.raises(ValueError, match="8x8"):
        ss.score_samples(np.zeros((3, 16, 16)))
    with pytest.raises(ValueError, match="at least one"):
        ss.score_samples(np.zeros((0, 64)))
    with pytest.raises(ValueError, match="batch_size"):
        ss.score_samples(np.zeros((2, 64)), batch_size=0)
    with pytest.raises(ValueError, match="seed"):
        ss.scorer(seed="0")
    slightly_off = np.random.default_rng(0).uniform(-0.1, 1.1, (4, 64))  # a sampler's overshoot
    np.testing.assert_array_equal(
        ss.score_samples(slightly_off)["probabilities"],
        ss.score_samples(np.clip(slightly_off, 0, 1))["probabilities"],
    )


def test_frechet_to_test_is_the_distance_of_the_features(tiny, split):
    test = ss.score_samples(split["X_test"])["features"]
    val = ss.score_samples(split["X_val"])["features"]
    some = split["X_train"][:200]
    assert ss.frechet_to_test(some) == pytest.approx(
        G.frechet_distance(ss.score_samples(some)["features"], test), rel=1e-9
    )
    assert ss.frechet_floor() == pytest.approx(G.frechet_distance(val, test), rel=1e-9)
    assert ss.frechet_to_test(split["X_test"]) == pytest.approx(0.0, abs=1e-6)


def test_the_trained_scorer_is_accurate_confident_and_tells_real_from_broken(monkeypatch, tmp_path):
    # The full training budget once (seconds on one thread): what the notebooks rely on.
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CS231N_DEVICE", "cpu")
    monkeypatch.setattr(ss, "_IN_MEMORY", {})
    split = digits.load(seed=ss.DATA_SEED, layout="nchw", dtype=np.float32)
    assert ss.scorer_accuracy("test") >= 0.97
    real = ss.score_samples(split["X_val"])
    assert real["confidence"] >= 0.9
    assert real["coverage"].min() >= 0.05  # the split has every digit, about 10% each
    floor = ss.frechet_floor()
    rng = np.random.default_rng(0)
    noise = ss.frechet_to_test(rng.random((300, 64)))
    blurred = ss.frechet_to_test(0.5 * split["X_val"] + 0.25)
    only_threes = split["X_train"][split["y_train"] == 3]  # mode collapse onto one digit
    collapsed = ss.frechet_to_test(only_threes)
    assert floor < min(noise, blurred, collapsed) / 5, (floor, noise, blurred, collapsed)
    assert ss.score_samples(only_threes)["coverage"][3] > 0.9


def test_the_grader_warms_the_scorer_cache_only_for_notebooks_that_use_it(monkeypatch):
    from cs231n_lib.blocks import caption_features
    from cs231n_lib.grading import scale

    calls = []
    monkeypatch.setattr(ss, "warm_cache", lambda seed=0: calls.append(("scorer", seed)))
    monkeypatch.setattr(caption_features, "warm_cache", lambda **kw: calls.append(("captions",)))
    scale.warm_data_caches({"rnn.ipynb": b"import numpy"})
    assert calls == []
    scale.warm_data_caches({"gan.ipynb": b"from cs231n_lib.blocks import sample_scorer"})
    assert calls == [("scorer", 0)], "a released notebook that scores samples needs the cache"
