"""Timing helpers shared by the layer benchmarks: best-of-N and a checked comparison."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

THREADS = 2  # torch and BLAS threads in every comparison (issue 26)


def use_threads(threads: int = THREADS) -> None:
    """torch's intra-op threads; BLAS reads OMP_NUM_THREADS at start (run.py sets it)."""
    torch.set_num_threads(threads)


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls, after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(
    layer: str,
    shape: str,
    ours: Callable[[], Sequence[np.ndarray]],
    theirs: Callable[[], Sequence[np.ndarray]],
    repeats: int,
    rtol: float = 1e-3,
) -> dict:
    """Check that both return the same arrays (relative to each one's largest value), then
    time both. Returns {"layer", "shape", "numpy_s", "torch_s", "ratio" (numpy / torch)}."""
    for index, (a, b) in enumerate(zip(ours(), theirs(), strict=True)):
        scale = max(float(np.abs(b).max()), 1e-12)
        if np.abs(np.asarray(a) - np.asarray(b)).max() > rtol * scale:
            raise RuntimeError(f"{layer} {shape}: output {index} differs from torch's")
    numpy_s, torch_s = best_time(ours, repeats), best_time(theirs, repeats)
    return {
        "layer": layer,
        "shape": shape,
        "numpy_s": numpy_s,
        "torch_s": torch_s,
        "ratio": numpy_s / torch_s,
    }


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary(rows: list[dict], bar: float | None, threads: int) -> dict:
    """A layer benchmark's result: its rows, their geometric-mean ratio and the bar."""
    ratios = [row["ratio"] for row in rows]
    return {"rows": rows, "geomean": geometric_mean(ratios), "bar": bar, "threads": threads}


def main(measure: Callable[..., dict], doc: str) -> None:
    """The command line of a layer benchmark: --repeats, --threads, then the table."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    # torch at 2 threads is noisy: the best of 5 flattered numpy
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=THREADS, help="torch CPU threads")
    args = parser.parse_args()
    print_rows(measure(args.repeats, args.threads)["rows"])


def print_rows(rows: list[dict]) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; float32, CPU")
    print(f"{'layer':<22} {'shape':<44} {'numpy s':>9} {'torch s':>9} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['layer']:<22} {row['shape']:<44} {row['numpy_s']:>9.4f} "
            f"{row['torch_s']:>9.4f} {row['ratio']:>6.2f}"
        )
    print(f"geometric mean ratio numpy / torch: {geometric_mean([r['ratio'] for r in rows]):.2f}x")
