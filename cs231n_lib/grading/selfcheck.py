"""A student's self-check: run a notebook as the autograder will and score its test cells.

Scoring follows nbgrader's own rule (`nbgrader.utils.determine_grade`): a test cell
earns its points unless it raised an error or wrote to stderr. Hidden tests exist only
in the instructor's copy, so this predicts an upper bound of the autograded score.
The student's file is only read, never written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_PER_CELL = 120  # seconds, as in nbgrader_config.py


@dataclass
class CellResult:
    """The outcome of one graded cell."""

    grade_id: str
    points: float
    max_points: float
    status: str  # "passed", "failed", "manual"
    message: str = ""  # first line of the failure


@dataclass
class CheckResult:
    """All graded cells of a notebook, plus warnings about it."""

    cells: list[CellResult]
    warnings: list[str]

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "failed"]

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells if c.status != "manual")

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells if c.status != "manual")


class NotebookError(Exception):
    """The notebook cannot be checked (missing, unreadable, not a course notebook)."""


def read_notebook(path: Path):
    """Read and validate a notebook, or raise NotebookError with a one-line reason."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"no such notebook: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {path}: {exc}") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"restore it from a JupyterLab checkpoint or a fresh copy of the release"
        ) from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat's own reader errors
        raise NotebookError(f"{path} is not a Jupyter notebook: {exc}") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise NotebookError(f"{path} is not a valid notebook: {first}") from None
    return nb


def _graded_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


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
    for cell in _graded_cells(nb):
        meta = cell.metadata.nbgrader
        if meta.get("solution") or "checksum" not in meta:
            continue
        if compute_checksum(cell) != meta["checksum"]:
            edited.append(meta.get("grade_id", "?"))
    return edited


def check_notebook(path: Path, fast: bool = True) -> CheckResult:
    """Execute a copy of the notebook at `path` and score each graded cell.

    Raises NotebookError when the file cannot be read or has no graded cells.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from nbgrader.utils import determine_grade

    path = Path(path).resolve()
    nb = read_notebook(path)
    if not _graded_cells(nb):
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
        timeout=TIMEOUT_PER_CELL,
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
    for cell in _graded_cells(nb):
        meta = cell.metadata.nbgrader
        grade_id = meta.get("grade_id", "?")
        max_points = float(meta.get("points", 0))
        if cell.cell_type != "code" or meta.get("solution"):
            results.append(CellResult(grade_id, 0.0, max_points, "manual"))
            continue
        executed = cell.get("execution_count") is not None or cell.get("outputs")
        points, _ = determine_grade(cell) if executed else (0.0, max_points)
        if points is not None and points >= max_points and executed:
            results.append(CellResult(grade_id, points, max_points, "passed"))
        else:
            message = _first_line_of_failure(cell) if executed else "did not run"
            results.append(CellResult(grade_id, points or 0.0, max_points, "failed", message))
    return CheckResult(results, warnings)


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


def format_report(result: CheckResult, name: str) -> str:
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
