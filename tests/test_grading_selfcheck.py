"""`cs231n check` tells the whole story (issue 16): hints, the first broken solution
cell, deleted test cells, unanswered questions, progress and the reminder to save.

One small course is built once and its student's notebook self-checked once through the
command (one kernel); each test then reads one behaviour from that run. The helpers of
`cs231n_lib.grading.selfcheck` are tested on their own without a kernel.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from conftest import _meta, demo_notebook
from cs231n_lib import cli
from cs231n_lib.grading import selfcheck
from cs231n_lib.grading.selfcheck import (
    HINT_LINES,
    RELEASE_COPY,
    defined_names,
    failure_lines,
    find_release,
    save_reminder,
)

REPO = Path(__file__).resolve().parents[1]
HINT = "square each entry: x * x, not x * x + 1"
CONTINUED = " " * 9 + "| "  # how the report shows a message's further lines


def _course_notebook() -> NotebookNode:
    """The demo notebook with two more exercises (quad uses double; cube) and an inline
    question, as its nbgrader source (solutions and answers filled in)."""
    nb = demo_notebook()
    nb.cells[5].source = (  # test_square: a check with a hint on its second line
        "from cs231n_lib.checks import check_close\n"
        f"check_close(square(3), 9, name='square(3)', hint={HINT!r})\n"
        "print('square: all visible tests passed')"
    )
    nb.cells += [
        nbformat.v4.new_code_cell(
            "def quad(x):\n    ### BEGIN SOLUTION\n    return double(double(x))\n"
            "    ### END SOLUTION",
            metadata=_meta("quad", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert quad(1) == 4, 'quad(1) should be 4'",
            metadata=_meta("test_quad", grade=True, locked=True, points=1),
        ),
        nbformat.v4.new_code_cell(
            "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION",
            metadata=_meta("cube", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert cube(2) == 8, 'cube(2) should be 8'",
            metadata=_meta("test_cube", grade=True, locked=True, points=1),
        ),
        nbformat.v4.new_markdown_cell(
            "Doubling twice is linear: quad(x) = 4x.",
            metadata=_meta("inline_question_1", grade=True, solution=True, points=2),
        ),
    ]
    return nb


def _student_notebook() -> NotebookNode:
    """A student's notebook: double has a syntax error (test_double and, three cells on,
    test_quad fail with NameError), square is off by one (a hint on the failure's second
    line), test_cube was deleted, the inline question is unanswered."""
    nb = _course_notebook()
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    cells["double"].source = "def double(x):\n    return 2 *"
    cells["square"].source = "def square(x):\n    return x * x + 1"
    cells["inline_question_1"].source = "**Your answer:**\n\nYOUR ANSWER HERE"
    nb.cells.remove(cells["test_cube"])
    return nb


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """(status, stdout, stderr, notebook path, its bytes before) of `cs231n check` on the
    student's notebook in assignments/ of a course whose solutions/ holds the source."""
    root = tmp_path_factory.mktemp("selfcheck") / "course"
    (root / "solutions" / "00_demo").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    nbformat.write(_course_notebook(), root / "solutions" / "00_demo" / "demo.ipynb")
    folder = root / "assignments" / "00_demo"
    folder.mkdir(parents=True)
    path = folder / "demo.ipynb"
    nbformat.write(_student_notebook(), path)
    # JupyterLab's checkpoint holds newer work than the file (an older copy put back?)
    checkpoints = folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    newer = _student_notebook()
    newer.cells[2].source = "def double(x):\n    return 2 * x"
    nbformat.write(newer, checkpoints / "demo-checkpoint.ipynb")
    saved = time.time() - 600
    os.utime(path, (saved, saved))
    before = path.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["check", str(path)])
    return status, out.getvalue(), err.getvalue(), path, before


def _line(out: str, start: str) -> list[str]:
    """The report line that starts with `start` and the continuation lines under it."""
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(start))
    more = []
    for line in lines[index + 1 :]:
        if not line.startswith(CONTINUED):
            break
        more.append(line.removeprefix(CONTINUED))
    return [lines[index], *more]


def test_check_exits_1_and_leaves_the_file_alone(checked):
    status, out, _, path, before = checked
    assert status == 1, out
    assert path.read_bytes() == before, "check must never write the student's notebook"
    assert "Total: 0/7 autograded points, 4 cell(s) failed" in out, out


def test_check_shows_the_whole_assertion_message_not_the_traceback(checked):
    _, out, _, _, _ = checked
    first, *more = _line(out, "  FAIL   test_square")
    assert "0/3  AssertionError: square(3) differs from the reference" in first, first
    assert "got 10, expected 9" in first
    assert more == [f"Hint: {HINT}"], more
    assert "Traceback" not in out and "check_close(" not in out


def test_check_names_the_first_broken_solution_cell(checked):
    _, out, _, _, _ = checked
    assert "First broken solution cell: double raised SyntaxError: invalid syntax" in out, out
    assert "(line 2 of the cell)" in out and ".py, line" not in out
    assert "  fix it first: test_double, test_quad failed with NameError on names it defines" in out
    for test in ("test_double", "test_quad"):
        first, cause = _line(out, f"  FAIL   {test}")
        assert "NameError: name 'double' is not defined" in first, first
        assert cause == (
            "solution cell double raised SyntaxError, so `double` was never defined: "
            "fix that cell first"
        )


def test_check_flags_a_deleted_test_cell(checked):
    _, out, _, _, _ = checked
    first, more = _line(out, "  FAIL   test_cube")
    assert "0/1  deleted: this test cell of the release scores 0 here" in first, first
    assert "the autograder puts it back and runs it" in more
    lines = out.splitlines()
    order = [
        next(i for i, x in enumerate(lines) if f" {g} " in x) for g in ("test_quad", "test_cube")
    ]
    assert order == sorted(order), "a deleted cell is shown where the release has it"


def test_check_flags_an_unanswered_question(checked):
    _, out, _, _, _ = checked
    (line,) = _line(out, "  TODO   inline_question_1")
    assert 'graded by hand: unanswered: it still reads "YOUR ANSWER HERE"' in line
    assert "; 1 answer(s) to write (2 pt graded by hand)" in out


def test_check_shows_progress_and_reminds_to_save(checked):
    _, _, err, _, _ = checked
    lines = err.splitlines()
    assert lines[0].startswith("checks demo.ipynb as last saved ("), lines[0]
    assert lines[0].endswith("10 min ago): save it (Ctrl+S) first"), lines[0]
    assert "warning: JupyterLab's checkpoint .ipynb_checkpoints/demo-checkpoint.ipynb" in err
    assert "running demo.ipynb in fast mode (CS231N_FAST=1): 8 code cell(s)" in err
    progress = [line.strip() for line in lines if line.strip().startswith("[")]
    labels = ["setup", "double", "test_double", "square", "test_square", "quad", "test_quad"]
    assert [p.split()[1] for p in progress] == [*labels, "cube"], progress
    assert progress[0].startswith("[1/8] setup ... ") and progress[0].endswith(" s"), progress
    assert progress[2].startswith("[3/8] test_double ... ") and progress[2].endswith(", error")
    assert lines[-1].startswith("ran in ") and lines[-1].endswith(" s")


# --- the helpers on their own -------------------------------------------------------------


def test_defined_names_reads_the_top_level_even_with_a_syntax_error():
    source = (
        "import numpy as np\nfrom math import pi, tau as full\n\n"
        "def f(x):\n    inner = 1\n    return x\n\nclass Net:\n    pass\n\n"
        "best_k, (lr, reg) = 1, (2, 3)\nfor i in range(3):\n    total = i\n"
        "squares = [j * j for j in range(3)]\n%matplotlib inline\n"
    )
    assert defined_names(source) == {
        "np", "pi", "full", "f", "Net", "best_k", "lr", "reg", "i", "total", "squares"
    }  # fmt: skip
    broken = "def double(x):\n    return 2 *\n\nclass Model:\n    pass\nrate: float = 0.1\n"
    assert defined_names(broken) == {"double", "Model", "rate"}


def _error_cell(ename: str, evalue: str, traceback: list[str] | None = None):
    cell = nbformat.v4.new_code_cell("test()")
    cell.outputs = [
        NotebookNode(
            output_type="error",
            ename=ename,
            evalue=evalue,
            traceback=traceback or ["\x1b[31mTraceback (most recent call last)\x1b[0m"],
        )
    ]
    return cell


def test_failure_lines_keep_a_few_lines_of_the_message_each_capped():
    evalue = "\n".join([f"line {i}" for i in range(1, 11)]) + "\n" + "x" * 5000
    lines = failure_lines(_error_cell("AssertionError", evalue))
    assert lines[:HINT_LINES] == ["AssertionError: line 1", *[f"line {i}" for i in range(2, 7)]]
    assert lines[-1] == f"... ({11 - HINT_LINES} more line(s) in the notebook)"
    assert not any("Traceback" in line for line in lines)
    long = failure_lines(_error_cell("ValueError", "y" * 5000))
    assert len(long) == 1 and len(long[0]) < 400 and "[truncated, 5,0" in long[0]


def test_failure_lines_of_stderr_and_of_a_cell_stopped_at_the_time_limit():
    cell = nbformat.v4.new_code_cell("noise()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="warn one\nwarn two\n")]
    assert failure_lines(cell) == [
        "wrote to stderr (a test cell must stay quiet):",
        "warn one",
        "warn two",
    ]
    limit = selfcheck.DEFAULT_LIMITS.cell_timeout
    stopped = failure_lines(_error_cell("KeyboardInterrupt", ""), seconds=limit + 0.5)
    assert stopped[0].startswith(f"stopped after {limit} s, the autograder's limit per cell")
    assert failure_lines(_error_cell("KeyboardInterrupt", ""), seconds=1.0) == ["KeyboardInterrupt"]


def test_save_reminder_always_one_line_and_a_newer_checkpoint_warns(tmp_path):
    path = tmp_path / "knn.ipynb"
    path.write_text("{}")
    now = time.time()
    os.utime(path, (now - 7200, now - 7200))
    (line,) = save_reminder(path, now=now)
    assert line.startswith("checks knn.ipynb as last saved (") and "2 h ago" in line, line
    assert line.endswith("save it (Ctrl+S) first")

    checkpoint = tmp_path / ".ipynb_checkpoints" / "knn-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_text("{}")  # the same content: a plain save
    assert len(save_reminder(path, now=now)) == 1
    checkpoint.write_text('{"cells": []}')
    _, warning = save_reminder(path, now=now)
    assert "knn-checkpoint.ipynb is newer (" in warning and "latest work" in warning
    os.utime(checkpoint, (now - 9000, now - 9000))  # older than the file: nothing to say
    assert len(save_reminder(path, now=now)) == 1
    assert save_reminder(tmp_path / "gone.ipynb") == []


def _write(path: Path, nb) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_find_release_in_a_student_edition_copy(tmp_path, monkeypatch):
    """(The course's solutions/ as the reference: the `checked` run above.)"""
    monkeypatch.chdir(tmp_path)  # no course above the working directory
    edition = tmp_path / "edition"
    (edition / "nbgrader_config.py").parent.mkdir()
    (edition / "nbgrader_config.py").write_text("")
    released = _write(edition / RELEASE_COPY / "00_demo" / "demo.ipynb", _course_notebook())
    other = demo_notebook()
    for cell in other.cells:  # another notebook: only the grade id "setup" in common
        if "nbgrader" in cell.metadata and cell.metadata.nbgrader["grade_id"] != "setup":
            cell.metadata.nbgrader["grade_id"] += "_other"
    _write(edition / RELEASE_COPY / "01_other" / "other.ipynb", other)
    student = _student_notebook()
    mine = _write(edition / "assignments" / "00_demo" / "renamed.ipynb", student)

    cells, where = find_release(mine, student)
    assert where == f"{RELEASE_COPY}/00_demo/demo.ipynb"
    assert [c["source"] for c in cells] == [c.source for c in nbformat.read(released, 4).cells]
    # the release copy itself is never its own reference; no course: nothing known
    assert find_release(released, nbformat.read(released, 4)) is None
    assert find_release(tmp_path / "loose.ipynb", student) is None
    # a notebook sharing less than half of its cells with every candidate has none
    double = next(
        c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double"
    )
    unrelated = nbformat.v4.new_notebook(cells=[double])  # 1 of its 4 cells in the copy
    for name in ("a", "b", "c"):
        unrelated.cells.append(
            nbformat.v4.new_code_cell("pass", metadata=_meta(name, grade=True, points=1))
        )
    assert find_release(mine, unrelated) is None


def test_check_times_out_a_cell_and_runs_on(tmp_path, monkeypatch):
    """An endless loop fails its cell at the limit (as the autograder's) instead of
    stopping the check with a traceback; the cells after it still run."""
    monkeypatch.setattr(
        selfcheck, "DEFAULT_LIMITS", replace(selfcheck.DEFAULT_LIMITS, cell_timeout=2)
    )
    nb = demo_notebook()
    nb.cells[2].source = "def double(x):\n    while True:\n        pass"
    path = _write(tmp_path / "loop.ipynb", nb)
    report = selfcheck.check_notebook(path)
    by_id = {c.grade_id: c for c in report.cells}
    assert by_id["test_double"].status == "failed"
    assert by_id["test_double"].message.startswith("stopped after 2 s, the autograder's limit")
    assert by_id["test_square"].status == "passed"


def test_deleted_answer_and_solution_cells_from_a_student_edition_copy():
    """Scoring an executed notebook (outputs made by hand): an answer cell and a
    solution cell the release has are missing, a test cell appears twice."""
    released = _course_notebook().cells
    nb = _course_notebook()
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    nb.cells.remove(by_id["inline_question_1"])
    nb.cells.remove(by_id["cube"])
    nb.cells.append(nbformat.from_dict(by_id["test_quad"]))  # a copy of a test cell
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
    by_id["test_cube"].outputs = [
        NotebookNode(output_type="error", ename="NameError", evalue="name 'cube' is not defined",
                     traceback=[])
    ]  # fmt: skip
    where = f"{RELEASE_COPY}/00_demo/demo.ipynb"
    report = selfcheck.score_notebook(nb, {}, (released, where), [])
    assert [c.grade_id for c in report.cells] == [
        "test_double", "test_square", "test_quad", "test_cube", "inline_question_1"
    ]  # fmt: skip
    assert "test_quad appears more than once; the autograder grades one" in report.warnings
    assert (
        f"solution cell cube of the release is missing (deleted?): tests that use what it "
        f"defines fail; take it from {where}"
    ) in report.warnings
    answer = report.cells[-1]
    assert (answer.status, answer.manual, answer.max_points) == ("missing", True, 2.0)
    assert report.failed == [report.cells[3], answer] and report.max_points == 7
    text = selfcheck.format_report(report, "demo.ipynb")
    assert (
        "  FAIL   inline_question_1  2 pt, graded by hand: deleted: this answer cell of the "
        f"release scores 0\n{CONTINUED}take it from {where}\n"
    ) in text, text
