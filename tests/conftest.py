"""Shared fixtures: a tiny nbgrader course built in a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    # The grading package's one set of warning filters (nbgrader's SQLAlchemy session
    # warnings, nbformat's validator), for tests that use nbgrader outside a grading run.
    from cs231n_lib.grading.course import quiet_warnings

    quiet_warnings()


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test (block tests time nothing; two pytest workers share
    the cores), the caller's thread count restored after it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _meta(grade_id: str, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def demo_notebook() -> nbformat.NotebookNode:
    """A two-exercise course notebook: `double` (2 points) and `square` (3 points)."""
    cells = [
        nbformat.v4.new_markdown_cell("# Demo\nImplement two functions."),
        nbformat.v4.new_code_cell("import numpy as np", metadata=_meta("setup", locked=True)),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            metadata=_meta("double", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert double(3) == 6, 'double(3) should be 6'\n"
            "### BEGIN HIDDEN TESTS\nassert double(-1.5) == -3.0\n### END HIDDEN TESTS",
            metadata=_meta("test_double", grade=True, locked=True, points=2),
        ),
        nbformat.v4.new_code_cell(
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata=_meta("square", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert square(3) == 9, 'square(3) should be 9'\n"
            "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
            metadata=_meta("test_square", grade=True, locked=True, points=3),
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture
def demo_course(tmp_path: Path) -> Path:
    """A course folder with the repository's nbgrader_config.py and solutions/00_demo."""
    root = tmp_path / "course"
    (root / "solutions" / "00_demo").mkdir(parents=True)
    (root / "assignments").mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    nbformat.write(demo_notebook(), root / "solutions" / "00_demo" / "demo.ipynb")
    return root
