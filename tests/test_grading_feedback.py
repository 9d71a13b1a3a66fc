"""Feedback without hidden tests, the summary table, and the per-cell item analysis."""

from __future__ import annotations

import nbformat
from nbformat import NotebookNode

from cs231n_lib.grading import feedback

RELEASED = "assert double(3) == 6, 'double(3) should be 6'"
HIDDEN = "assert double(-1.5) == -3.0, 'secret case'"


def _graded_notebook() -> NotebookNode:
    meta = {"nbgrader": {"grade": True, "grade_id": "test_double", "points": 2, "solution": False}}
    test = nbformat.v4.new_code_cell(
        f"{RELEASED}\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS", metadata=meta
    )
    test.outputs = [
        NotebookNode(
            output_type="error",
            ename="AssertionError",
            evalue="secret case",
            traceback=["Traceback", f"----> 3 {HIDDEN}", "AssertionError: secret case"],
        )
    ]
    spy = nbformat.v4.new_code_cell("print(In[-2])")
    spy.outputs = [NotebookNode(output_type="stream", name="stdout", text=f"ok\n{HIDDEN}\n")]
    return nbformat.v4.new_notebook(cells=[test, spy])


def test_hidden_tests_leave_source_tracebacks_and_outputs():
    nb = _graded_notebook()
    hide = feedback.HideHiddenTests(released={"demo": {"test_double": RELEASED}})
    nb, _ = hide.preprocess(nb, {"nbgrader": {"notebook": "demo"}})
    text = nbformat.writes(nb)
    assert "-1.5" not in text, text
    assert nb.cells[0].source == RELEASED
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: secret case"]
    assert nb.cells[1].outputs[0].text == "ok\n[line of a hidden test]\n"


def test_summary_escapes_what_students_wrote():
    cells = [
        {"grade_id": "test_a", "score": 0, "max_score": 2, "status": "failed",
         "message": "<script>alert(1)</script>"},
        {"grade_id": "q1", "score": None, "max_score": 2, "status": "manual", "message": ""},
    ]  # fmt: skip
    text = feedback.summary_markdown("demo.ipynb", cells, ["file <b>renamed</b>"])
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "0 of 2 autograded points." in text and "2 more points are graded by hand" in text
    page = feedback.missing_notebook_html("demo.ipynb", cells, ["no demo.ipynb in the submission"])
    assert "<script>" not in page and "no demo.ipynb in the submission" in page


def test_cells_the_class_fails_most_come_first():
    def row(student, grade_id, score, message=""):
        return {
            "assignment": "01_knn", "notebook": "knn", "grade_id": grade_id, "student": student,
            "score": score, "max_score": 2.0, "status": "passed" if score == 2 else "failed",
            "message": message, "needs_manual_grade": False,
        }  # fmt: skip

    rows = [
        row("a", "test_easy", 2.0),
        row("b", "test_easy", 2.0),
        row("a", "test_hard", 0.0, "AssertionError: k=3"),
        row("b", "test_hard", 0.0, "AssertionError: k=3"),
        row("c", "test_hard", 2.0),
        row("c", "test_easy", 0.0, "NameError"),
    ]
    summary = feedback.summarize_cells(rows)
    assert [s["grade_id"] for s in summary] == ["test_hard", "test_easy"]
    assert summary[0]["failed"] == 2 and summary[0]["failed_fraction"] == 0.667
    assert summary[0]["most_common_failure"] == "AssertionError: k=3"


def test_results_table_keeps_its_columns_apart():
    """Each header and cell of the summary table has padding (it read "pointsresult")."""
    cells = [{"grade_id": "test_a", "score": 1, "max_score": 2, "status": "failed",
              "message": "wrong"}]  # fmt: skip
    table = feedback._results_table(cells)
    assert table.count("padding") == 6, table
