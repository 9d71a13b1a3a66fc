"""Reading course notebooks as grading needs them: validated, with a one-line reason
when they cannot be read, and their nbgrader cells found by metadata.

A leaf module shared by the student's self-check and the instructor's worker.
"""

from __future__ import annotations

import json
from pathlib import Path


def python_source(source: str) -> str:
    """A code cell's source without IPython's magics and shell escapes (`%...`, `!...`
    lines are blanked, so line numbers stay those of the cell)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


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


def nbgrader_metadata(cell) -> dict:
    """The cell's nbgrader metadata ({} for a cell nbgrader does not know)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id, None if it has none."""
    return nbgrader_metadata(cell).get("grade_id")


def graded_cells(nb) -> list:
    """The cells that carry points: autograded tests and manually graded answers."""
    return [c for c in nb.cells if nbgrader_metadata(c).get("grade")]
