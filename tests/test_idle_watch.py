"""The root conftest's idle watch: a notebook cell whose kernel sits idle fails in seconds
(not at the 10-minute cell timeout), naming the idle time; a busy cell is left alone."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.mark.slow
def test_an_idle_kernel_fails_its_cell_and_a_busy_one_passes(pytester, monkeypatch):
    pytester.makeconftest((REPO / "conftest.py").read_text())
    busy = "import time\nend = time.time() + 6\nwhile time.time() < end:\n    sum(range(1000))"
    idle = "import time\ntime.sleep(120)"
    nbformat.write(_notebook(busy, idle, "print('after')"), pytester.path / "watch.ipynb")
    monkeypatch.setenv("CS231N_IDLE_LIMIT", "3")
    result = pytester.runpytest_subprocess(
        "--nbval-lax", "-p", "no:cacheprovider", "watch.ipynb", timeout=100
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 and outcomes.get("failed") == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*the kernel sat idle for * s while this cell ran*"])
    assert "Cell 1" in result.stdout.str() or "watch.ipynb::Cell 1" in result.stdout.str()
