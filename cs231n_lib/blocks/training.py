"""A plain training loop for classifiers: the building block of notebooks after 07_pytorch.

07_pytorch/pytorch.ipynb has the student write make_loader, train_one_epoch and
evaluate; these are the package's versions, with the same behaviour, for later notebooks
(and as the reference in that notebook's tests). Everything runs on the device of the
model's parameters unless a device is given; batches are moved there one at a time.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_loader(
    X: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader over arrays or tensors: X as float32, y as int64 labels.

    Inputs:
    - X: inputs, shape (N, ...); y: labels, shape (N,); numpy arrays or tensors.
    - batch_size: rows per batch; the last batch holds the N % batch_size left over.
    - shuffle: a new order every epoch, drawn from a torch.Generator seeded with `seed`,
      so two loaders with the same seed give the same batches.
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    dataset = TensorDataset(
        torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    )
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _device_of(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def train_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, device=None) -> float:
    """One pass over `loader` in train mode, one optimizer step per batch.

    Per batch: move it to the device, zero the gradients, forward, mean cross-entropy,
    backward, step. Returns the mean loss over all examples (each batch's loss weighted
    by its size).
    """
    device = _device_of(model, device)
    model.train()
    total, count = 0.0, 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    if count == 0:
        raise ValueError("the loader yielded no batches")
    return total / count


def evaluate(model: nn.Module, loader, device=None) -> float:
    """Accuracy (a float in [0, 1]) of argmax predictions, in eval mode, without gradients."""
    device = _device_of(model, device)
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            correct += (model(X).argmax(dim=1) == y).sum().item()
            count += len(y)
    if count == 0:
        raise ValueError("the loader yielded no batches")
    return correct / count


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    val_loader,
    num_epochs: int,
    device=None,
    progress: bool = True,
    desc: str = "epochs",
) -> dict[str, list[float]]:
    """Train for num_epochs, evaluating on val_loader after each epoch.

    Returns a history dict of lists, one entry per epoch: "train_loss", "val_acc" and
    "epoch_seconds" (the training pass only, not the evaluation). With progress, a tqdm
    bar counts the epochs and shows the latest loss and accuracy.
    """
    from tqdm.auto import tqdm

    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    device = _device_of(model, device)
    history: dict[str, list[float]] = {"train_loss": [], "val_acc": [], "epoch_seconds": []}
    bar = tqdm(range(num_epochs), desc=desc, disable=not progress)
    for _ in bar:
        start = time.perf_counter()
        loss = train_epoch(model, train_loader, optimizer, device)  # .item() waits for a GPU
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["train_loss"].append(loss)
        history["val_acc"].append(evaluate(model, val_loader, device))
        bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{history['val_acc'][-1]:.3f}")
    return history


def check_budget(num_steps: int | None, seconds: float | None) -> None:
    """Refuse a training budget that cannot end: neither num_steps nor seconds, a num_steps
    that is not a positive int, or seconds <= 0."""
    if num_steps is None and seconds is None:
        raise ValueError("give num_steps, seconds or both to say when training ends")
    if num_steps is not None and (
        isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1
    ):
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")


def fraction_done(step: int, start: float, num_steps: int | None, seconds: float | None) -> float:
    """How far a run is, 0 at the start and >= 1 at its end: the larger of step / num_steps
    and the seconds since `start` (a time.perf_counter() value) / seconds."""
    elapsed = time.perf_counter() - start
    return max(step / num_steps if num_steps else 0.0, elapsed / seconds if seconds else 0.0)


def warmup_cosine_lr(step: int, done: float, learning_rate: float, warmup_steps: int) -> float:
    """The learning rate of step `step` (0-based) when the run is `done` (fraction_done) through:
    a linear warm-up over warmup_steps times a half-cosine decay from learning_rate to 0."""
    warm = min(1.0, (step + 1) / max(warmup_steps, 1))
    return learning_rate * warm * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    num_steps: int,
    batch_loss,
    desc: str = "training",
    progress: bool = True,
) -> dict[str, list[float] | float]:
    """`num_steps` optimizer steps with a half-cosine learning rate (from the optimizer's to 0),
    the model in train mode: each step calls batch_loss(), the scalar loss tensor of a freshly
    drawn batch, backpropagates it and steps.

    Returns {"loss": per-step losses, "seconds": training time, "seconds_per_step"}.
    """
    from tqdm.auto import tqdm

    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / num_steps))
    )
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    for _ in tqdm(range(num_steps), desc=desc, disable=not progress):
        loss = batch_loss()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    return {"loss": losses, "seconds": seconds, "seconds_per_step": seconds / num_steps}


def seeded_adamw_steps(
    model: nn.Module,
    batch_loss,
    num_steps: int,
    learning_rate: float,
    weight_decay: float,
    seed: int,
    desc: str = "training",
    progress: bool = True,
    parameters=None,
) -> dict[str, list[float] | float]:
    """`train_steps` with AdamW on `parameters` (default: the model's) and torch's global
    seed set to `seed` for the run; the caller's global random state (CPU, and the model's
    GPU) is left as it was. Returns train_steps' history; the model stays in train mode."""
    parameters = model.parameters() if parameters is None else parameters
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    device = _device_of(model, None)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        return train_steps(model, optimizer, num_steps, batch_loss, desc, progress)


def epoch_batches(num_items: int, batch_size: int, generator: torch.Generator):
    """The batch sampler of the fixed-step trainers: a function that returns the indices
    (min(batch_size, num_items),) int64 of the next batch. Batches run through random
    permutations of range(num_items) drawn from `generator`, every item once per epoch;
    an epoch's remainder shorter than a batch is dropped."""
    size = min(batch_size, num_items)
    order = torch.empty(0, dtype=torch.int64)

    def next_batch() -> torch.Tensor:
        nonlocal order
        if len(order) < size:
            order = torch.randperm(num_items, generator=generator)
        batch, order = order[:size], order[size:]
        return batch

    return next_batch


def predict_in_batches(model: nn.Module, inputs: np.ndarray, batch_size: int) -> torch.Tensor:
    """model(inputs) in eval mode without gradients, `batch_size` rows at a time on the model's
    device: inputs (N, ...) as float32 -> the outputs concatenated on the CPU, (N, ...)."""
    device = next(model.parameters()).device
    model.eval()
    X = torch.as_tensor(inputs, dtype=torch.float32)
    with torch.no_grad():
        out = [model(X[s : s + batch_size].to(device)).cpu() for s in range(0, len(X), batch_size)]
    return torch.cat(out)
