"""The GPU figures: torch references and block tests on CUDA, and one training step per
torch family, timed on the CPU and on the GPU (run.py's "gpu" item).

    .venv/bin/python benchmarks/gpu.py [--steps 20]

Without CUDA it says so and measures nothing. On a machine with a GPU (the `device` tool
lends one to some sessions; no Jupyter there) it runs the reference and block tests with
CS231N_DEVICE=cuda, then times optimizer steps (forward, backward, AdamW) at full-mode
batch sizes for: a 07-style conv-BN-ReLU net (ShapesNet of 15), 09's VisionTransformer,
10's SingleStageDetector (the sum of its outputs as the loss: the network's cost, not the
target assignment's) and 12's DigitUNet denoiser. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
TEST_FILES = ["tests/test_reference.py", "tests/test_reference_attention.py",
              "tests/test_reference_rnn.py", "tests/test_blocks*.py"]  # fmt: skip


def families() -> list[tuple[str, Callable[[], nn.Module], Callable[[torch.device], tuple]]]:
    """(name, model factory, batch maker(device) -> forward arguments)."""
    from cs231n_lib.blocks.detection import SingleStageDetector
    from cs231n_lib.blocks.diffusion import DigitUNet
    from cs231n_lib.blocks.transformers import VisionTransformer
    from cs231n_lib.blocks.understanding import ShapesNet

    def images(n, c, size):
        return lambda device: (torch.rand(n, c, size, size, device=device),)

    def noisy_digits(device):
        x = torch.randn(128, 1, 8, 8, device=device)
        return (
            x,
            torch.randint(0, 200, (128,), device=device),
            torch.randint(0, 10, (128,), device=device),
        )

    return [
        ("07-style convnet (ShapesNet, 64 x 3 x 32 x 32)", ShapesNet, images(64, 3, 32)),
        ("09 VisionTransformer (128 x 3 x 32 x 32)", VisionTransformer, images(128, 3, 32)),
        ("10 SingleStageDetector (32 x 3 x 96 x 96)", SingleStageDetector, images(32, 3, 96)),
        ("12 DigitUNet denoiser (128 x 1 x 8 x 8)", DigitUNet, noisy_digits),
    ]


def _loss(output) -> torch.Tensor:
    parts = output if isinstance(output, tuple | list) else (output,)
    return sum(p.float().pow(2).mean() for p in parts)


def step_seconds(factory, batch, device: torch.device, steps: int) -> float:
    """Mean seconds of one optimizer step after 3 warm-up steps."""
    torch.manual_seed(0)
    model = factory().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    args = batch(device)

    def one() -> None:
        optimizer.zero_grad(set_to_none=True)
        _loss(model(*args)).backward()
        optimizer.step()

    for _ in range(3):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def cuda_tests() -> str:
    """Run the reference and block tests on CUDA; pytest's summary line."""
    files = [str(p.relative_to(REPO)) for pattern in TEST_FILES for p in sorted(REPO.glob(pattern))]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=REPO,
        env=dict(os.environ, CS231N_DEVICE="cuda"),
        capture_output=True,
        text=True,
    )
    summary = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return summary[-1].strip("= ") if summary else f"pytest exited {done.returncode}"


def measure(steps: int = 20) -> dict:
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device on the machine that ran it (torch "
                f"{torch.__version__}); run benchmarks/gpu.py on one"}  # fmt: skip
    torch.set_num_threads(2)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    rows = []
    for name, factory, batch in families():
        rows.append({
            "name": name,
            "cpu_s": step_seconds(factory, batch, cpu, max(2, steps // 10)),
            "gpu_s": step_seconds(factory, batch, cuda, steps),
        })  # fmt: skip
    return {"device": torch.cuda.get_device_name(0), "tests": cuda_tests(), "rows": rows}


if __name__ == "__main__":
    steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 20
    print(json.dumps(measure(steps), indent=2))
