"""cs231n_lib.blocks.caption_features: slot targets read from captions, deterministic
training by seed, the cache (reused, atomic, locked, damaged, unwritable) and shapes.
Training runs on a tiny budget here; the full budget's accuracy is measured, not tested."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs231n_lib.blocks import caption_features as cf
from cs231n_lib.data import captions as cap

TINY = {"num_train": 64, "num_steps": 3}


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A data dir of its own, the tiny budget for "fast", and an empty in-process cache."""
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(cf.BUDGETS, "fast", TINY)
    monkeypatch.setattr(cf, "_IN_MEMORY", {})
    return tmp_path / "data"


def test_targets_go_by_position_not_by_naming_order():
    w = {word: i for i, word in enumerate(cap.VOCAB)}
    texts = [
        "a large red circle right of a small blue square",
        "a large red circle above a small blue square",
        "a small green cross",
    ]
    targets = cf.feature_targets(cap.encode_captions(texts, w))
    small_blue_square = [0, cap.COLOURS.index("blue"), cap.SHAPES.index("square")]
    large_red_circle = [1, cap.COLOURS.index("red"), cap.SHAPES.index("circle")]
    np.testing.assert_array_equal(targets[0], [*small_blue_square, 0, *large_red_circle])
    np.testing.assert_array_equal(targets[1], [*large_red_circle, 1, *small_blue_square])
    np.testing.assert_array_equal(targets[2], [0, 1, 4, 2, 2, 6, 5])
    assert [n for _, n in cf.HEADS] == [2, 6, 5, 3, 3, 7, 6]


def _train(seed, data):
    return cf.train_feature_extractor(data["X_train"], data["y_train"], seed=seed, num_steps=3)


def test_training_is_deterministic_by_seed_and_leaves_torch_rng_alone():
    data = cap.load(num_train=64, num_val=0, num_test=0)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = _train(0, data), _train(0, data), _train(1, data)
    assert torch.rand(1) == before, "training moved torch's global generator"
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.heads.weight, c.heads.weight)
    assert not a.training and next(a.parameters()).device.type == "cpu"


def test_the_cache_is_written_once_and_reused(tiny, monkeypatch):
    model = cf.feature_extractor(seed=0, budget="fast")
    path = cf.cache_path(0, "fast")
    assert path.is_file() and path.parent == tiny
    assert f"data{cap.VERSION}_model{cf.MODEL_VERSION}_fast_seed0" in path.name
    assert not list(tiny.glob("*.tmp")), "a temporary file was left behind"
    assert cf.feature_extractor(seed=0, budget="fast") is model  # kept in the process

    def no_training(*args):
        raise AssertionError("trained again although the cache holds the weights")

    monkeypatch.setattr(cf, "_IN_MEMORY", {})
    monkeypatch.setattr(cf, "_train", no_training)
    again = cf.feature_extractor(seed=0, budget="fast")
    assert torch.equal(again.heads.weight.cpu(), model.heads.weight.cpu())


def test_a_damaged_cache_is_trained_again(tiny):
    tiny.mkdir(parents=True)
    cf.cache_path(0, "fast").write_bytes(b"not a state dict")
    model = cf.feature_extractor(seed=0, budget="fast")
    state = torch.load(cf.cache_path(0, "fast"), weights_only=True)
    assert torch.equal(state["heads.weight"], model.heads.weight.cpu())


def test_an_unwritable_data_dir_trains_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("CS231N_DATA", str(blocker / "data"))  # a folder inside a file
    monkeypatch.setitem(cf.BUDGETS, "fast", TINY)
    monkeypatch.setattr(cf, "_IN_MEMORY", {})
    model = cf.feature_extractor(seed=2, budget="fast")
    assert isinstance(model, cf.CaptionFeatureCNN)
    assert cf.feature_extractor(seed=2, budget="fast") is model


def test_features_have_the_documented_shape_in_any_layout(tiny):
    data = cap.load(num_train=3, num_val=0, num_test=0, layout="nhwc")
    nhwc = cf.image_features(data["X_train"], seed=0, budget="fast", batch_size=2)
    nchw = cf.image_features(data["X_train"].transpose(0, 3, 1, 2), seed=0, budget="fast")
    assert nhwc.shape == (3, cf.FEATURE_DIM) and nhwc.dtype == np.float32
    np.testing.assert_allclose(nhwc, nchw, rtol=1e-5, atol=1e-6)
    assert (nhwc >= 0).all()  # after a ReLU
    accuracy = cf.slot_accuracy(cf.feature_extractor(0, "fast"), data["X_train"], data["y_train"])
    assert set(accuracy) == {name for name, _ in cf.HEADS} | {"all"}


def test_bad_arguments_are_refused(tiny):
    with pytest.raises(ValueError, match="budget='huge'"):
        cf.feature_extractor(budget="huge")
    with pytest.raises(ValueError, match="batch_size"):
        cf.image_features(np.zeros((2, 3, 32, 32), np.float32), budget="fast", batch_size=0)
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        cf.image_features(np.zeros((2, 32, 32), np.float32), budget="fast")


def test_spatial_features_are_the_cells_the_linear_layer_reads(tiny):
    data = cap.load(num_train=3, num_val=0, num_test=0, layout="nhwc")
    grid = cf.spatial_features(data["X_train"], seed=0, budget="fast", batch_size=2)
    assert grid.shape == (3, 16, 64) and grid.dtype == np.float32
    assert cf.spatial_features(data["X_train"][:0], budget="fast").shape == (0, 16, 64)
    # the pooled features are relu(Linear(the map flattened channel-major)): cell r*4+c of
    # channel k is grid[:, r * 4 + c, k]
    linear = cf.feature_extractor(0, "fast").body[cf.GRID_LAYERS + 1]
    flat = torch.from_numpy(grid.transpose(0, 2, 1).reshape(3, -1))
    with torch.no_grad():
        pooled = torch.relu(linear(flat)).numpy()
    features = cf.image_features(data["X_train"], seed=0, budget="fast")
    np.testing.assert_allclose(pooled, features, rtol=1e-4, atol=1e-5)
