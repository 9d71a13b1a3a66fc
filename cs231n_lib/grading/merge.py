"""The single writer: results of graded submissions go into the instructor's course.

Workers never touch the course. Only the grading command's own process writes, one
submission at a time, in the order results arrive: the student's autograded/ and
feedback/ folders are replaced whole (written beside, then swapped in), and the
gradebook values nbgrader computed in the worker's scratch gradebook are copied in one
transaction. Nothing else is touched: other students' grades stay, and manual grades
(`manual_score`, comments) are never overwritten, as with nbgrader's own autograde.
The report's messages and notes, which students can flood, are capped (`cap_text`).
"""

from __future__ import annotations

from pathlib import Path

from cs231n_lib.grading.escape import cap_text
from cs231n_lib.grading.intake import write_folder
from cs231n_lib.grading.results import CellOutcome, SubmissionReport, SubmissionResult


def merge_result(root: Path, db_url: str, result: SubmissionResult) -> SubmissionReport:
    """Write one worker's result into the course; returns the student's report."""
    report = SubmissionReport(
        result.student,
        result.success,
        error=cap_text(result.error),
        notes=[cap_text(note) for note in result.notes],
        sandboxed=result.sandboxed,
        sandbox_reason=result.sandbox_reason,
        seconds=result.seconds,
    )
    if not result.success:
        return report
    assignment, student = result.assignment, result.student
    write_folder(root / "autograded" / student / assignment, result.autograded)
    write_folder(root / "feedback" / student / assignment, result.feedback)
    _merge_gradebook(db_url, result)
    report.cells = [
        CellOutcome(
            c.notebook,
            c.grade_id,
            c.score,
            c.max_score,
            manual=c.status == "manual",
            status=c.status,
            message=cap_text(c.message),
        )
        for c in result.cells
    ]
    return report


def _merge_gradebook(db_url: str, result: SubmissionResult) -> None:
    from nbgrader.api import Gradebook

    assignment, student = result.assignment, result.student
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_student(student)
        when = {"timestamp": result.timestamp} if result.timestamp else {}
        gradebook.update_or_create_submission(assignment, student, **when)
        for cell in result.cells:
            grade = gradebook.find_grade(cell.grade_id, cell.notebook, assignment, student)
            grade.auto_score = cell.auto_score
            # A manual grade given while this run was going still asks for a review.
            grade.needs_manual_grade = cell.needs_manual_grade or grade.manual_score is not None
            cell.manual_score = grade.manual_score
        for key, auto_comment in result.comments.items():
            notebook, name = key.split("/", 1)
            gradebook.find_comment(name, notebook, assignment, student).auto_comment = auto_comment
        for notebook, penalty in result.late_penalties.items():
            submitted = gradebook.find_submission_notebook(notebook, assignment, student)
            submitted.late_submission_penalty = penalty
        gradebook.db.commit()


def manual_grades(db_url: str, assignment: str, student: str) -> dict[str, dict]:
    """The instructor's grades and comments so far ("notebook/grade_id" -> values), which
    a worker needs to show them in the feedback."""
    from nbgrader.api import Gradebook, MissingEntry

    found: dict[str, dict] = {}
    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return found
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.manual_score is not None or grade.extra_credit:
                    found.setdefault(f"{notebook.name}/{grade.name}", {}).update(
                        manual_score=grade.manual_score, extra_credit=grade.extra_credit
                    )
            for comment in notebook.comments:
                if comment.manual_comment:
                    found.setdefault(f"{notebook.name}/{comment.name}", {})["manual_comment"] = (
                        comment.manual_comment
                    )
    return found
