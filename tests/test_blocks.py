"""Tests of cs231n_lib.blocks: counting against closed forms, the training loop against a
hand-written loop. The GPU test at the end skips without CUDA."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib import blocks

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def cpu_unless_asked(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(231)


# --- counting ------------------------------------------------------------------------------


def small_convnet():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8 * (3 * 9 + 1) = 224 params, 8*32*32 * 27 MACs
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),  # 16*8*9 = 1152; 16*8*8 * 72
        nn.BatchNorm2d(16),  # 32 parameters
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10),  # 10250; 10 * 1024 MACs
    )


def test_count_parameters_closed_form():
    model = small_convnet()
    assert blocks.count_parameters(model) == 224 + 1152 + 32 + 10250
    model[0].requires_grad_(False)
    assert blocks.count_parameters(model, trainable_only=True) == 1152 + 32 + 10250


def test_count_parameters_counts_shared_weights_once():
    layer = nn.Linear(4, 4)
    assert blocks.count_parameters(nn.Sequential(layer, nn.ReLU(), layer)) == 20


def test_count_multiply_adds_closed_form_also_on_meta():
    expected = 8 * 32 * 32 * 27 + 16 * 8 * 8 * 72 + 10 * 1024
    assert blocks.count_multiply_adds(small_convnet(), (3, 32, 32)) == expected
    with torch.device("meta"):
        model = small_convnet()
    assert blocks.count_parameters(model) == 224 + 1152 + 32 + 10250
    assert blocks.count_multiply_adds(model, (3, 32, 32)) == expected


def test_count_multiply_adds_grouped_and_transposed_convs():
    grouped = nn.Conv2d(4, 8, 3, padding=1, groups=2)  # each output sees 2 channels
    assert blocks.count_multiply_adds(grouped, (4, 5, 5)) == 8 * 25 * 2 * 9
    transposed = nn.ConvTranspose2d(4, 6, 2, stride=2)  # each input feeds 6 * 4 outputs
    assert blocks.count_multiply_adds(transposed, (4, 3, 3)) == 4 * 9 * 6 * 4


def test_count_multiply_adds_restores_train_mode_and_checks_input():
    model = small_convnet().train()
    model[4].eval()
    blocks.count_multiply_adds(model, (3, 32, 32))
    assert model.training and not model[4].training
    with pytest.raises(ValueError, match="without the batch axis"):
        blocks.count_multiply_adds(model, (1, 3, 0, 16))
    with pytest.raises(TypeError, match="nn.Module"):
        blocks.count_parameters(lambda x: x)


# --- training loop -------------------------------------------------------------------------


def blobs(rng, n=120):
    """Three well-separated Gaussian blobs in 2D."""
    y = rng.integers(0, 3, size=n)
    centres = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    return centres[y] + rng.normal(size=(n, 2)), y


def test_make_loader_batches_dtypes_and_seeded_shuffle(rng):
    X, y = rng.normal(size=(10, 3)), np.arange(10)
    batches = list(blocks.make_loader(X, y, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    np.testing.assert_array_equal(torch.cat([b[1] for b in batches]).numpy(), y)

    def order(seed):
        return torch.cat([b[1] for b in blocks.make_loader(X, y, 4, shuffle=True, seed=seed)])

    assert torch.equal(order(3), order(3))
    assert not torch.equal(order(3), order(4))
    assert sorted(order(3).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="10 rows but y has 9"):
        blocks.make_loader(X, y[:9])


def test_train_epoch_equals_a_hand_written_loop(rng):
    X, y = blobs(rng, 50)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    loss = blocks.train_epoch(
        model, blocks.make_loader(X, y, 16), torch.optim.SGD(model.parameters(), 0.1)
    )

    optimizer = torch.optim.SGD(twin.parameters(), 0.1)
    losses = []
    for start in range(0, 50, 16):
        Xb = torch.tensor(X[start : start + 16], dtype=torch.float32)
        yb = torch.tensor(y[start : start + 16])
        optimizer.zero_grad()
        batch_loss = F.cross_entropy(twin(Xb), yb)
        batch_loss.backward()
        optimizer.step()
        losses.append(batch_loss.item() * len(yb))
    assert loss == pytest.approx(sum(losses) / 50, rel=1e-6)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_fit_learns_blobs_and_evaluate_uses_eval_mode(rng):
    X, y = blobs(rng)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    train, val = (
        blocks.make_loader(X[:90], y[:90], 16, True),
        blocks.make_loader(X[90:], y[90:], 64),
    )
    history = blocks.fit(
        model, torch.optim.Adam(model.parameters(), 0.05), train, val, 5, progress=False
    )
    assert set(history) == {"train_loss", "val_acc", "epoch_seconds"}
    assert all(len(v) == 5 for v in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] >= 0.9
    model.train()
    accuracies = {blocks.evaluate(model, val) for _ in range(5)}
    assert len(accuracies) == 1 and not model.training  # dropout off: the same every time


def test_evaluate_counts_correct_argmax():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))  # predicts the larger coordinate
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    assert blocks.evaluate(model, blocks.make_loader(X, np.array([0, 1, 1, 1]), 3)) == 0.75


# --- GPU -----------------------------------------------------------------------------------


@needs_cuda
def test_training_and_counting_on_gpu(rng):
    X, y = blobs(rng)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
    loader = blocks.make_loader(X, y, 32, shuffle=True)
    history = blocks.fit(
        model, torch.optim.Adam(model.parameters(), 0.05), loader, loader, 3, progress=False
    )
    assert history["val_acc"][-1] >= 0.9
    assert blocks.count_multiply_adds(model, (2,)) == 2 * 16 + 16 * 3


def test_warmup_cosine_lr_rises_linearly_then_follows_a_half_cosine_to_zero():
    from cs231n_lib.blocks.training import warmup_cosine_lr

    assert warmup_cosine_lr(0, 0.0, 1.0, 4) == pytest.approx(0.25)
    assert warmup_cosine_lr(3, 0.0, 1.0, 4) == pytest.approx(1.0)
    assert warmup_cosine_lr(10, 0.5, 2.0, 4) == pytest.approx(1.0)  # 2 * (1 + cos(pi/2)) / 2
    assert warmup_cosine_lr(10, 1.0, 2.0, 4) == pytest.approx(0.0, abs=1e-12)


def test_check_budget_names_what_is_wrong():
    from cs231n_lib.blocks.training import check_budget, fraction_done

    for num_steps, seconds, message in [
        (None, None, "give num_steps, seconds"),
        (0, None, "positive int"),
        (True, None, "positive int"),
        (2.5, None, "positive int"),
        (None, 0, "seconds must be > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_budget(num_steps, seconds)
    check_budget(10, None)
    assert fraction_done(5, time.perf_counter(), 10, None) == pytest.approx(0.5)
    assert fraction_done(0, time.perf_counter() - 2.0, None, 4.0) == pytest.approx(0.5, abs=0.05)


# --- train_steps and predict_in_batches ------------------------------------------------------


def test_train_steps_equals_a_hand_written_half_cosine_loop():
    from cs231n_lib.blocks.training import train_steps

    torch.manual_seed(0)
    X, y = torch.randn(30, 4), torch.randn(30, 1)
    model = nn.Linear(4, 1)
    twin = copy.deepcopy(model)
    num_steps, lr = 7, 0.1
    history = train_steps(
        model,
        torch.optim.SGD(model.parameters(), lr=lr),
        num_steps,
        lambda: F.mse_loss(model(X), y),
        progress=False,
    )
    expected = []
    for step in range(num_steps):
        loss = F.mse_loss(twin(X), y)
        twin.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in twin.parameters():  # the learning rate decays from lr to 0 by a half cosine
                p -= lr * 0.5 * (1 + np.cos(np.pi * step / num_steps)) * p.grad
        expected.append(loss.item())
    np.testing.assert_allclose(history["loss"], expected, rtol=1e-6)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert model.training and history["seconds_per_step"] == history["seconds"] / num_steps
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="num_steps must be a positive int"):
            train_steps(model, torch.optim.SGD(model.parameters(), lr=lr), bad, lambda: None)


def test_predict_in_batches_equals_one_pass_in_eval_mode(rng):
    from cs231n_lib.blocks.training import predict_in_batches

    model = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.Linear(5, 2))
    inputs = rng.normal(size=(23, 3))
    out = predict_in_batches(model, inputs, batch_size=4)
    assert not model.training and out.shape == (23, 2) and not out.requires_grad
    with torch.no_grad():  # dropout off: eval mode, so the batches equal one pass
        torch.testing.assert_close(out, model(torch.as_tensor(inputs, dtype=torch.float32)))


@pytest.mark.parametrize(("num_items", "batch_size"), [(10, 3), (4, 4), (3, 8)])
def test_epoch_batches_visit_every_item_once_per_epoch(num_items, batch_size):
    from cs231n_lib.blocks.training import epoch_batches

    next_batch = epoch_batches(num_items, batch_size, torch.Generator().manual_seed(0))
    size = min(batch_size, num_items)
    per_epoch = num_items // size
    expected = torch.Generator().manual_seed(0)
    for epoch in range(3):
        order = torch.randperm(num_items, generator=expected)
        batches = [next_batch() for _ in range(per_epoch)]
        assert all(b.shape == (size,) and b.dtype == torch.int64 for b in batches)
        got = torch.cat(batches)
        assert torch.equal(got, order[: per_epoch * size]), (
            f"epoch {epoch}: batches should be the consecutive slices of one permutation per "
            f"epoch (the remainder dropped); got {got.tolist()}, permutation {order.tolist()}"
        )
