"""Submissions graded per minute: plain `nbgrader autograde` against `cs231n grade --jobs N`.

Both grade the same generated class of complete 01_knn submissions (tests/knn_class.py:
a third correct, the others one plausible bug each, as a real class hands in), each in its
own scratch copy of the course, in fast mode, alternately (A B A B) so that a change of
load on the machine hits both. Reported per run: wall time, submissions per minute and the
peak memory of the grader's whole process tree (the sum of the resident memory of the
grader and every kernel, sampled every 0.2 s); the ratio of the median rates; and where the
time of one submission goes (`overhead`). `measure_dask` grades the class on a Dask
LocalCluster instead.

Note that `cs231n grade` does more than `nbgrader autograde`: it sandboxes each kernel,
runs the tests in a trusted process of their own, writes HTML feedback and three CSVs.
Not a test: run.py's "grade" and "grade-dask" items, or by hand:

    .venv/bin/python benchmarks/grade_throughput.py --students 12 --jobs 2 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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

BAR = 1.8  # issue 26: cs231n grade --jobs 2 at least 1.8x plain sequential nbgrader

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


def _prepared(scratch: Path, students: int) -> tuple[Path, Path]:
    """A class of `students`, and a plain and an own copy of the course holding it."""
    realistic_class(scratch / "class", students)
    plain = make_course(scratch / "plain", scratch / "class")
    ours = make_course(scratch / "ours", scratch / "class")
    # Not timed: nbgrader learns the assignment (and runs `alembic` once).
    subprocess.run(
        [str(BIN / "nbgrader"), "generate_assignment", ASSIGNMENT, "--force", "--log-level=ERROR"],
        cwd=plain,
        check=True,
        env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"),
    )
    return plain, ours


def _plain_command() -> list[str]:
    return [
        str(BIN / "nbgrader"),
        "autograde",
        ASSIGNMENT,
        "--log-level=ERROR",
        "--force",  # the same class again, in the A B A B runs
        # The course's config refuses plain autograde (see grading/guard.py); the
        # benchmark measures nbgrader's own pipeline as the baseline on purpose.
        "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter",
    ]


def _ours_command(course: Path, jobs: int, *extra: str) -> list[str]:
    return [str(BIN / "cs231n"), "--course", str(course), "grade", ASSIGNMENT,
            "--jobs", str(jobs), *extra]  # fmt: skip


def _run_record(grader: str, students: int, measured: tuple[float, int, str]) -> dict:
    seconds, peak, _ = measured
    return {
        "grader": grader,
        "seconds": round(seconds, 1),
        "per_minute": round(60 * students / seconds, 2),
        "peak_mib": round(peak / 2**20),
    }


def _some_students(course: Path, students: list[str]) -> Path:
    """A copy of `course` whose submitted/ holds only `students`."""
    copy = course.parent / f"{course.name}-{len(students)}-students"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted"))
    for student in students:
        shutil.copytree(course / "submitted" / student, copy / "submitted" / student)
    return copy


def _kernel_start_seconds() -> float:
    """Start a plain python3 kernel and wait until it answers (no sandbox, no course)."""
    from jupyter_client.manager import start_new_kernel

    start = time.monotonic()
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=300)
    seconds = time.monotonic() - start
    client.stop_channels()
    manager.shutdown_kernel(now=True)
    return seconds


def overhead(ours: Path, repeats: int = 2) -> dict[str, float]:
    """Where the time of grading goes (medians of `repeats`). Measured: a plain kernel's
    start, the notebook's own cells in a plain kernel, and `cs231n grade --jobs 1` of one
    correct submission (sandboxed, and with --sandbox off) and of two. Derived: the cost of
    each further submission (two minus one), the fixed cost of a run (one minus that:
    start-up, the package copy without the answers, the gradebook, the CSVs), the sandbox's
    share of a submission, and what a submission costs beyond its kernel and cells (intake,
    the trusted test process, merging, feedback)."""
    import notebooks as nb_bench

    one = _some_students(ours, ["student000"])  # correct ones (every third student)
    two = _some_students(ours, ["student000", "student003"])
    notebook = one / "submitted" / "student000" / ASSIGNMENT / "knn.ipynb"
    runs = {
        "kernel start (plain)": lambda: _kernel_start_seconds(),
        "notebook cells (plain kernel)": lambda: nb_bench.execute(notebook, fast=True)["wall_s"],
        "grade 1 submission": lambda: timed(_ours_command(one, 1), one)[0],
        "grade 1 submission, --sandbox off": lambda: timed(
            _ours_command(one, 1, "--sandbox", "off"), one
        )[0],
        "grade 2 submissions": lambda: timed(_ours_command(two, 1), two)[0],
    }
    samples: dict[str, list[float]] = {part: [] for part in runs}
    for _ in range(repeats):
        for part, run in runs.items():
            samples[part].append(run())
    m = {part: statistics.median(values) for part, values in samples.items()}
    further = m["grade 2 submissions"] - m["grade 1 submission"]
    m["each further submission"] = further
    m["fixed cost of a run"] = m["grade 1 submission"] - further
    m["sandbox, per submission"] = m["grade 1 submission"] - m["grade 1 submission, --sandbox off"]
    m["per submission beyond kernel start and cells"] = (
        further - m["kernel start (plain)"] - m["notebook cells (plain kernel)"]
    )
    return {part: round(seconds, 2) for part, seconds in m.items()}


def measure(students: int = 12, jobs: int = 2, rounds: int = 2) -> dict:
    """Plain sequential nbgrader (A) against cs231n grade --jobs (B), A B A B ... (run.py's
    "grade" item); the ratio of the median rates, and the per-submission overhead."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="cs231n-bench-") as scratch:
        plain, ours = _prepared(Path(scratch), students)
        for _ in range(rounds):
            runs.append(_run_record("nbgrader autograde", students, timed(_plain_command(), plain)))
            runs.append(
                _run_record(f"cs231n grade --jobs {jobs}", students,
                            timed(_ours_command(ours, jobs), ours))
            )  # fmt: skip
        parts = overhead(ours)
    rate = {
        kind: statistics.median(r["per_minute"] for r in runs if r["grader"].startswith(kind))
        for kind in ("nbgrader", "cs231n")
    }
    return {
        "assignment": ASSIGNMENT,
        "students": students,
        "jobs": jobs,
        "runs": runs,
        "ratio": round(rate["cs231n"] / rate["nbgrader"], 2),
        "bar": BAR,
        "overhead": parts,
    }


def measure_dask(students: int = 12, workers: int = 2) -> dict:
    """The same class graded on a Dask LocalCluster (run.py's "grade-dask" item)."""
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="cs231n-bench-") as scratch:
        _, ours = _prepared(Path(scratch), students)
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            seconds, _, _ = timed(
                [str(BIN / "cs231n"), "--course", str(ours), "grade", ASSIGNMENT,
                 "--scheduler", cluster.scheduler_address],
                ours,
            )  # fmt: skip
    return {
        "students": students,
        "workers": workers,
        "seconds": round(seconds, 1),
        "per_minute": round(60 * students / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs")
    args = parser.parse_args()
    print(json.dumps(measure(args.students, args.jobs, args.rounds), indent=2))


if __name__ == "__main__":
    main()
