"""Submissions graded per minute: plain `nbgrader autograde` against `cs231n grade --jobs N`.

Both grade the same generated class of complete 01_knn submissions (tests/knn_class.py:
correct ones and one plausible bug each), each in its own scratch copy of the course,
one after the other on this machine, in fast mode. Reported: wall time, submissions per
minute, their ratio, and the peak memory of each grader's whole process tree (the sum
of the resident memory of the grader and every kernel, sampled every 0.2 s).

Note that `cs231n grade` does more than `nbgrader autograde`: it sandboxes each kernel,
writes HTML feedback and three CSVs. Not a test: run it by hand, e.g.

    .venv/bin/python benchmarks/grade_throughput.py --students 30 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from knn_class import ASSIGNMENT, realistic_class  # noqa: E402

BIN = Path(sys.executable).parent


class PeakMemory:
    """The largest total resident memory of a process and all its descendants."""

    def __init__(self, process: subprocess.Popen, interval: float = 0.2):
        self.root, self.interval, self.peak = psutil.Process(process.pid), interval, 0
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while True:
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)


def make_course(folder: Path, submitted: Path) -> Path:
    root = folder / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    shutil.copytree(submitted, root / "submitted")
    return root


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak memory in bytes and the tail of the output of `command`."""
    env = dict(os.environ, CS231N_FAST="1", PATH=f"{BIN}:{os.environ['PATH']}")
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    memory = PeakMemory(process)
    output, _ = process.communicate()
    seconds = time.monotonic() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return seconds, memory.peak, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cs231n-bench-") as scratch:
        scratch = Path(scratch)
        realistic_class(scratch / "class", args.students)
        plain = make_course(scratch / "plain", scratch / "class")
        ours = make_course(scratch / "ours", scratch / "class")
        # Not timed: nbgrader learns the assignment (and runs `alembic` once).
        subprocess.run(
            [
                str(BIN / "nbgrader"),
                "generate_assignment",
                ASSIGNMENT,
                "--force",
                "--log-level=ERROR",
            ],
            cwd=plain,
            check=True,
            env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"),
        )
        print(f"plain nbgrader autograde: {args.students} submissions, one after another ...")
        nbgrader = timed(
            [
                str(BIN / "nbgrader"),
                "autograde",
                ASSIGNMENT,
                "--log-level=ERROR",
                # The course's config refuses plain autograde (see grading/guard.py); the
                # benchmark measures nbgrader's own pipeline as the baseline on purpose.
                "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter",
            ],
            plain,
        )
        print(f"cs231n grade --jobs {args.jobs} ...")
        command = [str(BIN / "cs231n"), "--course", str(ours), "grade", ASSIGNMENT]
        cs231n = timed([*command, "--jobs", str(args.jobs)], ours)

    rate_plain = 60 * args.students / nbgrader[0]
    rate_ours = 60 * args.students / cs231n[0]
    result = {
        "students": args.students,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "nbgrader_autograde": {
            "seconds": round(nbgrader[0], 1),
            "per_minute": round(rate_plain, 2),
            "peak_memory_mib": round(nbgrader[1] / 2**20),
        },
        "cs231n_grade": {
            "seconds": round(cs231n[0], 1),
            "per_minute": round(rate_ours, 2),
            "peak_memory_mib": round(cs231n[1] / 2**20),
            "sandboxed": "UNSANDBOXED" not in cs231n[2],
        },
        "ratio": round(rate_ours / rate_plain, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
