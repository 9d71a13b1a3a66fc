"""A student's self-check: run a notebook as the autograder will and score its test cells.

Scoring follows nbgrader's own rule (`nbgrader.utils.determine_grade`): a test cell
earns its points unless it raised an error or wrote to stderr. Hidden tests exist only
in the instructor's copy, so this predicts an upper bound of the autograded score.
The student's file is only read, never written.
"""

from __future__ import annotations

import os
from pathlib import Path

from cs231n_lib.grading.limits import DEFAULT_LIMITS
from cs231n_lib.grading.notebooks import NotebookError, graded_cells, read_notebook
from cs231n_lib.grading.results import SelfCheckCell, SelfCheckReport


def _first_line_of_failure(cell) -> str:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            value = output.get("evalue", "").strip().splitlines()
            return f"{output.ename}: {value[0]}" if value else output.ename
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            text = output.text.strip().splitlines()
            first = text[0] if text else ""
            return f"wrote to stderr (a test cell must stay quiet): {first}"
    return "no points"


def edited_test_cells(nb) -> list[str]:
    """grade_ids of locked test cells whose source differs from the released one."""
    from nbgrader.utils import compute_checksum

    edited = []
    for cell in graded_cells(nb):
        meta = cell.metadata.nbgrader
        if meta.get("solution") or "checksum" not in meta:
            continue
        if compute_checksum(cell) != meta["checksum"]:
            edited.append(meta.get("grade_id", "?"))
    return edited


def check_notebook(path: Path, fast: bool = True) -> SelfCheckReport:
    """Execute a copy of the notebook at `path` and score each graded cell.

    Raises NotebookError when the file cannot be read or has no graded cells.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from nbgrader.utils import determine_grade

    path = Path(path).resolve()
    nb = read_notebook(path)
    if not graded_cells(nb):
        raise NotebookError(f"{path} has no autograded cells: is it a notebook of this course?")
    warnings = [
        f"test cell {grade_id} was edited; the autograder will restore the original"
        for grade_id in edited_test_cells(nb)
    ]
    env = dict(os.environ)
    if fast:
        env["CS231N_FAST"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb,
        timeout=DEFAULT_LIMITS.cell_timeout,  # as the autograder's
        allow_errors=True,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        with _environment(env):
            client.execute()
    except DeadKernelError:
        warnings.append(
            "the kernel died while running the notebook (out of memory, or os._exit?); "
            "cells after that point count as failed"
        )

    results = []
    for cell in graded_cells(nb):
        meta = cell.metadata.nbgrader
        grade_id = meta.get("grade_id", "?")
        max_points = float(meta.get("points", 0))
        if cell.cell_type != "code" or meta.get("solution"):
            results.append(SelfCheckCell(grade_id, 0.0, max_points, "manual"))
            continue
        executed = cell.get("execution_count") is not None or cell.get("outputs")
        points, _ = determine_grade(cell) if executed else (0.0, max_points)
        if points is not None and points >= max_points and executed:
            results.append(SelfCheckCell(grade_id, points, max_points, "passed"))
        else:
            message = _first_line_of_failure(cell) if executed else "did not run"
            results.append(SelfCheckCell(grade_id, points or 0.0, max_points, "failed", message))
    return SelfCheckReport(results, warnings)


class _environment:
    """Temporarily replace os.environ (the kernel inherits it)."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def format_report(result: SelfCheckReport, name: str) -> str:
    """The self-check report a student reads: one line per graded cell, then the total."""
    lines = [f"Checking {name} (visible tests; hidden tests run when it is graded)"]
    lines += [f"warning: {w}" for w in result.warnings]
    width = max((len(c.grade_id) for c in result.cells), default=10)
    for cell in result.cells:
        if cell.status == "manual":
            lines.append(
                f"  MANUAL {cell.grade_id:<{width}}  {cell.max_points:g} pt, graded by hand"
            )
            continue
        mark = "PASS" if cell.status == "passed" else "FAIL"
        line = f"  {mark}   {cell.grade_id:<{width}}  {cell.points:g}/{cell.max_points:g}"
        if cell.message:
            line += f"  {cell.message}"
        lines.append(line)
    lines.append(
        f"Total: {result.points:g}/{result.max_points:g} autograded points"
        + (f", {len(result.failed)} cell(s) failed" if result.failed else ", all passed")
    )
    return "\n".join(lines)
