"""Small models the course trains once per machine and keeps in the data directory.

08's caption features (blocks.caption_features) and 12's sample scorer
(blocks.sample_scorer) are trained by the package on first use, seeded, and their weights
saved in config.data_dir(). This module holds the caching both use:

- load_or_train(path, make_model, train): read the cached state dict first, WITHOUT
  writing anything (the grader's sandboxed kernels see the data directory read-only and
  must load what the grader cached for them); only when nothing usable is cached, take an
  exclusive lock next to the file (so notebooks started together train once), look again,
  train and save atomically. Without a writable directory it trains for this process only.
- threads(count): run a block with torch at `count` threads (training at a fixed thread
  count gives the same weights on every machine with the same torch build).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

__all__ = ["load_or_train", "load_state", "save_state", "threads"]


@contextlib.contextmanager
def threads(count: int) -> Iterator[None]:
    """torch.set_num_threads(count) inside the block, the previous count restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_state(path: Path, make_model: Callable[[], nn.Module]) -> nn.Module | None:
    """make_model() with the state dict saved at `path`, in eval mode on the CPU; None if
    the file is missing, unreadable or does not fit the model (then train again)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = make_model()
        model.load_state_dict(state)
        return model.eval()
    except (OSError, RuntimeError, ValueError, EOFError, KeyError, pickle.UnpicklingError):
        return None


def save_state(model: nn.Module, path: Path) -> None:
    """Write model's state dict to a temporary file next to `path`, then rename it: a
    reader sees either no file or a whole one. A failed write leaves no file behind."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(model.state_dict(), file)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def load_or_train(
    path: Path, make_model: Callable[[], nn.Module], train: Callable[[], nn.Module]
) -> nn.Module:
    """The model cached at `path`, or train() (saved there when the directory allows).

    Inputs:
    - path: the cache file (its directory is created if missing and writable).
    - make_model: builds an untrained model of the cached architecture.
    - train: trains and returns the model (called at most once per call here).
    """
    model = load_state(path, make_model)  # first, without writing: the dir may be read-only
    if model is not None:
        return model
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_suffix(".lock"), "a")  # held while this process trains
    except OSError:  # not writable: train for this process only
        return train()
    with lock:
        _hold(lock)
        model = load_state(path, make_model)  # another process may have trained it meanwhile
        if model is None:
            model = train()
            save_state(model, path)
    return model


def _hold(lock) -> None:
    """Wait for the exclusive lock on the open file `lock` (released when it closes); without
    fcntl (Windows), go on."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
