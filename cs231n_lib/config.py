"""Run-time settings read from the environment: fast mode, data directory, device.

| variable        | meaning                                            | default            |
| --------------- | -------------------------------------------------- | ------------------ |
| CS231N_FAST     | "1" shrinks data and iterations (tests, autograde)  | off                |
| CS231N_DATA     | where data sets are downloaded and looked for      | <course root>/data |
| CS231N_DEVICE   | torch device: "cuda", "mps" or "cpu"               | best available     |
"""

from __future__ import annotations

import os
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[1]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
DEVICES = ("cuda", "mps", "cpu")


def fast_mode() -> bool:
    """True when CS231N_FAST asks for small data and few iterations."""
    value = os.environ.get("CS231N_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"CS231N_FAST={value!r} is not understood; use 1 (fast) or 0 (full)")


def pick(fast, full):
    """Return `fast` in fast mode and `full` otherwise (sizes, iteration counts)."""
    return fast if fast_mode() else full


def data_dir() -> Path:
    """Directory that holds downloaded data sets (CS231N_DATA, else <course root>/data)."""
    value = os.environ.get("CS231N_DATA")
    return Path(value).expanduser().resolve() if value else COURSE_ROOT / "data"


def device():
    """The torch device to use: CS231N_DEVICE if set, else cuda, then mps, then cpu."""
    import torch

    wanted = os.environ.get("CS231N_DEVICE", "").strip().lower()
    if wanted:
        if wanted not in DEVICES:
            raise ValueError(f"CS231N_DEVICE={wanted!r} is not one of {DEVICES}")
        if wanted == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                "CS231N_DEVICE=cuda but torch sees no GPU: install a CUDA build of torch "
                "(README, section GPUs) or unset CS231N_DEVICE"
            )
        if wanted == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError("CS231N_DEVICE=mps but this machine has no Apple GPU")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
