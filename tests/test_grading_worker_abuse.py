"""A grading worker process that dies takes only its own submission with it.

`cs231n grade --jobs N` grades on a pool of worker processes; one that dies (os._exit,
the OOM killer, a kernel that kills its parent) breaks the whole pool. The other
submissions of the run must still be graded, and the one whose grading killed its
process is reported, with the reason, and can be re-graded with --student.
"""

from __future__ import annotations

import os

import pytest

from cs231n_lib.grading import course, scale, worker

KILLER = "killer"

pytestmark = pytest.mark.slow


def grade_or_die(submission, bundle, manual_grades=None):
    """worker.grade_submission, except that the worker process grading KILLER exits at
    once, as if what the submission ran had killed it. Test-only: tasks are pickled by
    reference, so the pool's processes import it from this module."""
    if submission.student == KILLER:
        os._exit(3)
    return worker.grade_submission(submission, bundle, manual_grades)


def _submit(root, student: str, data: bytes) -> None:
    folder = root / "submitted" / student / "00_demo"
    folder.mkdir(parents=True)
    (folder / "demo.ipynb").write_bytes(data)


def test_a_dying_worker_takes_only_its_own_submission(demo_course, monkeypatch):
    from cs231n_lib.cli import main

    assert main(["--course", str(demo_course), "release"]) == 0
    solution = (demo_course / "solutions" / "00_demo" / "demo.ipynb").read_bytes()
    release = (demo_course / "assignments" / "00_demo" / "demo.ipynb").read_bytes()
    for student, data in [("alice", solution), ("bob", release), (KILLER, solution)]:
        _submit(demo_course, student, data)
    _submit(demo_course, "dave", solution)
    monkeypatch.setattr(scale, "grade_submission", grade_or_die)
    seen = []
    result = scale.grade_class(demo_course, "00_demo", jobs=2, progress=seen.append)

    by_student = {r.student: r for r in result.reports}
    assert sorted(by_student) == ["alice", "bob", "dave", KILLER]
    assert [r.student for r in result.failed] == [KILLER], [r.error for r in result.failed]
    assert "its grading process died" in by_student[KILLER].error
    assert f"--student {KILLER}" in by_student[KILLER].error
    scores = {s: r.score for s, r in by_student.items() if r.success}
    assert scores == {"alice": 5.0, "bob": 0.0, "dave": 5.0}
    assert sorted(r.student for r in seen) == sorted(by_student)  # each reported once

    monkeypatch.undo()  # the killer's grading no longer kills its process: re-grade it
    again = scale.grade_class(demo_course, "00_demo", [KILLER], jobs=2)
    assert [(r.student, r.success, r.score) for r in again.reports] == [(KILLER, True, 5.0)]
    db_url = course.default_db_url(demo_course)
    for student, expected in [("alice", 5.0), ("bob", 0.0), ("dave", 5.0), (KILLER, 5.0)]:
        total = sum(c.score or 0 for c in course.read_scores(db_url, "00_demo", student))
        assert total == expected, student


def _answered(demo_course):
    """The release with the solution's answers in its solution cells, as a student hands
    it in; and a function to find a cell by grade id."""
    import nbformat

    solution = nbformat.read(demo_course / "solutions" / "00_demo" / "demo.ipynb", as_version=4)
    nb = nbformat.read(demo_course / "assignments" / "00_demo" / "demo.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution.cells
        if "nbgrader" in c.metadata
    }
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return nb


def _cell(nb, gid: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def test_tampered_metadata_is_graded_from_the_release(demo_course):
    import copy

    import nbformat

    from cs231n_lib.cli import main

    assert main(["--course", str(demo_course), "release"]) == 0
    tampered = {}
    tampered["honest"] = _answered(demo_course)
    nb = _answered(demo_course)
    nb.cells.append(copy.deepcopy(_cell(nb, "test_double")))  # a copy-pasted test cell
    nb.cells.insert(3, copy.deepcopy(_cell(nb, "double")))  # and solution cell
    tampered["duplicated"] = nb
    nb = _answered(demo_course)
    _cell(nb, "test_double").metadata.nbgrader["points"] = 100
    _cell(nb, "test_square").metadata.nbgrader["grade"] = False
    _cell(nb, "double").metadata.nbgrader.update(grade=True, points=5)
    _cell(nb, "setup").metadata.nbgrader["schema_version"] = 99
    tampered["edited_flags"] = nb
    nb = _answered(demo_course)
    _cell(nb, "test_square").metadata.nbgrader["grade_id"] = "test_mine"
    _cell(nb, "square").metadata.nbgrader["grade_id"] = "test_double"  # clashes with a test
    nb.cells.append(
        nbformat.v4.new_code_cell("x = 1", metadata=copy.deepcopy(nb.cells[3].metadata))
    )
    nb.cells[-1].metadata.nbgrader.update(grade_id="bonus", points=10)
    tampered["changed_ids"] = nb
    nb = _answered(demo_course)
    cell = _cell(nb, "test_square")
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]
    _cell(nb, "test_double").metadata["nbgrader"] = "garbage"
    tampered["changed_types"] = nb
    for student, nb in tampered.items():
        folder = demo_course / "submitted" / student / "00_demo"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "demo.ipynb")

    result = scale.grade_class(demo_course, "00_demo", jobs=2)
    by_student = {r.student: r for r in result.reports}
    assert not result.failed, [(r.student, r.error) for r in result.failed]
    for student, report in by_student.items():
        assert (report.score, report.max_score) == (5.0, 5.0), (student, report.cells)
    assert by_student["honest"].notes == []
    notes = {s: "\n".join(r.notes) for s, r in by_student.items()}
    assert "test_double appears 2 times in demo.ipynb" in notes["duplicated"]
    assert "double appears 2 times in demo.ipynb" in notes["duplicated"]
    assert "the nbgrader metadata of test_double in demo.ipynb was edited" in notes["edited_flags"]
    assert "the nbgrader metadata of double in demo.ipynb was edited" in notes["edited_flags"]
    assert "grade id 'test_mine' the release does not have" in notes["changed_ids"]
    assert "grade id 'bonus' the release does not have" in notes["changed_ids"]
    assert "test_square in demo.ipynb was made a markdown cell" in notes["changed_types"]
    assert "has nbgrader metadata the release does not have" in notes["changed_types"]
