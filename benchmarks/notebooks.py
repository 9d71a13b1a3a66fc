"""Execute one solution notebook, timed, and read the metrics it reached (figures 1 and 2).

    .venv/bin/python benchmarks/notebooks.py solutions/14_video/video.ipynb [--full]

The notebook runs top to bottom in a fresh kernel, in a scratch copy of its folder (so that
nothing it writes lands in the course: run in place, 07's challenge saves its weights into
tests/fixtures/, of which the copy gets its own), in fast mode (CS231N_FAST=1) unless
--full. Wall seconds count from the first cell to the end of the last (the kernel's start
is reported apart); CPU seconds are those of the kernel and everything it started (user +
system), read from the operating system when the kernel has exited. In full mode the
expressions of benchmarks/targets.py are then evaluated in the same kernel, so the metric
is the one the notebook computed, not a second run. Prints one JSON object; run.py calls
`execute` directly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import TARGETS, Target  # noqa: E402

PROBE_MARK = "CS231N_BENCH_PROBES "
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_TIMEOUT = 3600  # seconds for one cell in full mode (the longest trains for minutes)
THREADS = "2"  # torch and BLAS threads in every measured process (the rule)


def thread_env(fast: bool) -> dict[str, str]:
    """The environment of a measured notebook kernel: fast or full, 2 BLAS/torch threads."""
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS)
    env["OPENBLAS_NUM_THREADS"] = THREADS
    env.pop("CS231N_FAST", None)
    if fast:
        env["CS231N_FAST"] = "1"
    return env


def probe_source(targets: tuple[Target, ...]) -> str:
    """A cell that evaluates each target's expression and prints the values as JSON."""
    expressions = {t.name: t.expression for t in targets}
    return (
        "import json as _bench_json\n"
        "_bench_values = {}\n"
        f"for _bench_name, _bench_expr in {expressions!r}.items():\n"
        "    try:\n"
        "        _bench_values[_bench_name] = float(eval(_bench_expr))\n"
        "    except Exception as _bench_error:\n"
        "        _bench_values[_bench_name] = f'{type(_bench_error).__name__}: {_bench_error}'\n"
        f"print({PROBE_MARK!r} + _bench_json.dumps(_bench_values))\n"
    )


def _probe_values(cell) -> dict:
    for output in cell.get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith(PROBE_MARK):
                return json.loads(line[len(PROBE_MARK) :])
    return {}


def _last_line(message: str) -> str:
    """The last non-empty line of an error message, without terminal colour codes."""
    lines = [line for line in ANSI.sub("", message).splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no message)"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(path: Path, fast: bool, targets: tuple[Target, ...] = ()) -> dict:
    """Run the notebook at `path` (fast or full mode) and measure it.

    Returns {"wall_s", "cpu_s", "kernel_start_s", "cells", "error" (None or the failing
    cell's error), "values": {target name: float or an error string}}.
    """
    path = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="cs231n-bench-nb-") as scratch:
        # The course's layout around the folder: solutions/NN/ and, where the assignment
        # has one, tests/fixtures/NN/ (07's challenge reads its weights from there).
        folder = Path(scratch) / "solutions" / path.parent.name
        shutil.copytree(path.parent, folder)
        fixtures = REPO / "tests" / "fixtures" / path.parent.name
        if fixtures.is_dir():
            shutil.copytree(fixtures, Path(scratch) / "tests" / "fixtures" / fixtures.name)
        return _execute_in(folder / path.name, fast, targets)


def _execute_in(path: Path, fast: bool, targets: tuple[Target, ...]) -> dict:
    nb = nbformat.read(path, as_version=4)
    if targets:
        nb.cells.append(nbformat.v4.new_code_cell(probe_source(targets)))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        startup_timeout=300,
    )
    cpu_before = _children_cpu()
    start = time.monotonic()
    error = None
    with client.setup_kernel(env=thread_env(fast), cwd=str(path.parent)):
        ready = time.monotonic()
        for index, cell in enumerate(nb.cells):
            try:
                client.execute_cell(cell, index)
            except Exception as exc:  # the notebook failed: report which cell, go on
                error = f"cell {index}: {_last_line(str(exc))}"
                break
        end = time.monotonic()
    values = _probe_values(nb.cells[-1]) if targets and error is None else {}
    return {
        "wall_s": round(end - ready, 2),
        "kernel_start_s": round(ready - start, 2),
        "cpu_s": round(_children_cpu() - cpu_before, 2),
        "cells": len(nb.cells) - (1 if targets else 0),
        "error": error,
        "values": values,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="a notebook under solutions/")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast)")
    args = parser.parse_args()
    key = str(args.notebook.resolve().relative_to(REPO / "solutions"))
    targets = TARGETS.get(key, ()) if args.full else ()
    print(json.dumps(execute(args.notebook, fast=not args.full, targets=targets), indent=2))


if __name__ == "__main__":
    main()
