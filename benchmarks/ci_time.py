"""The README's test command (`make test`), timed, with worker seconds by test file.

    .venv/bin/python benchmarks/ci_time.py

Runs `make test` in the working tree with a JUnit report (pytest's xunit1 flavour, which
names each test's file) and sums the test durations per file. The wall time is that of the
whole command (set-up included); the per-file seconds are worker time, so on two workers
they add up to about twice the wall. Takes as long as the CI (about 30 minutes on 2 cores).
"""

from __future__ import annotations

import collections
import json
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def by_file(junit_xml: Path) -> tuple[dict, list[dict]]:
    """Counts (passed, failed, skipped) and [{"file", "tests", "seconds"}], slowest first."""
    root = ET.parse(junit_xml).getroot()
    seconds: dict[str, float] = collections.defaultdict(float)
    tests: dict[str, int] = collections.defaultdict(int)
    counts = collections.Counter()
    for case in root.iter("testcase"):
        name = case.get("file") or case.get("classname", "?").replace(".", "/")
        seconds[name] += float(case.get("time", 0))
        tests[name] += 1
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts[outcome] += 1
    rows = [{"file": f, "tests": tests[f], "seconds": round(s, 1)} for f, s in seconds.items()]
    rows.sort(key=lambda row: -row["seconds"])
    return {k: counts[k] for k in ("passed", "failed", "skipped")}, rows


def from_report(junit_xml: Path, wall_s: float, returncode: int = 0) -> dict:
    """The "ci" item from a JUnit report of a run made elsewhere (a clean clone's
    `.ci/run` with PYTEST_ARGS="--junitxml=FILE -o junit_family=xunit1"), and its wall."""
    counts, rows = by_file(Path(junit_xml))
    return {"wall_s": round(wall_s, 1), "returncode": returncode, **counts, "by_file": rows}


def measure() -> dict:
    """run.py's "ci" item."""
    with tempfile.TemporaryDirectory(prefix="cs231n-ci-") as scratch:
        report = Path(scratch) / "junit.xml"
        start = time.monotonic()
        done = subprocess.run(
            ["make", "test", f"PYTEST_ARGS=--junitxml={report} -o junit_family=xunit1"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - start
        if not report.is_file():
            raise RuntimeError(
                f"make test wrote no report ({done.returncode}):\n{done.stdout[-2000:]}"
            )
        counts, rows = by_file(report)
    return {"wall_s": round(wall, 1), "returncode": done.returncode, **counts, "by_file": rows}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
