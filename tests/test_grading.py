"""The grading contract of DESIGN.md, checked for every assignment folder in solutions/.

For each assignment: assignments/ is what nbgrader makes from solutions/ now; the
solution submitted as a student's scores full marks; the untouched release scores 0;
each buggy submission of tests/buggy/<assignment>.py loses exactly the points of the
cells it names and keeps all others.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.grading import course

REPO = Path(__file__).resolve().parents[1]
BUGGY = Path(__file__).resolve().parent / "buggy"
ASSIGNMENTS = course.list_assignments(REPO)


def _bug_batches() -> list:
    """Buggy submissions packed into as few autograde runs as possible.

    Bugs that edit different solution cells and must fail different test cells go into
    one submission: each test cell then sees exactly one bug, so a bug that slips
    through still shows as its cell keeping its points, at a fraction of the runs.
    """
    params = []
    for assignment in ASSIGNMENTS:
        spec = BUGGY / f"{assignment}.py"
        if not spec.is_file():
            continue
        batches: list[list[dict]] = []
        for bug in runpy.run_path(str(spec))["BUGS"]:
            touched = {(bug["notebook"], bug["cell"])} | {
                (bug["notebook"], g) for g in bug["loses"]
            }
            for batch in batches:
                if all(touched.isdisjoint(_touched(other)) for other in batch):
                    batch.append(bug)
                    break
            else:
                batches.append([bug])
        for i, batch in enumerate(batches, 1):
            params.append(pytest.param(assignment, batch, id=f"{assignment}-bugs{i}"))
    return params


def _touched(bug: dict) -> set:
    return {(bug["notebook"], bug["cell"])} | {(bug["notebook"], g) for g in bug["loses"]}


def test_every_assignment_has_buggy_submissions():
    missing = [a for a in ASSIGNMENTS if not (BUGGY / f"{a}.py").is_file()]
    assert ASSIGNMENTS, "no assignment folders with notebooks found in solutions/"
    assert not missing, f"no tests/buggy/<assignment>.py for: {missing}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_in_sync(assignment):
    stale = course.release_differences(REPO, assignment)
    assert not stale, f"assignments/ out of sync, run `cs231n release {assignment}`: {stale}"


class GradingCourse:
    """A scratch copy of the course where one assignment can be autograded."""

    def __init__(self, root: Path, assignment: str):
        self.root, self.assignment = root, assignment
        (root / "solutions").mkdir(parents=True)
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        self.db_url = course.default_db_url(root)
        course.generate_release(root, assignment, root / "release", self.db_url)
        self.api = course.make_api(root, db_url=self.db_url)

    def grade(self, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> dict:
        """Autograde `notebooks` (file name -> notebook) as `student`'s submission and
        return {grade_id: (score, max_score)} of the autograded cells."""
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            nbformat.write(nb, folder / name)
        report = course.autograde(self.api, self.db_url, self.assignment, student)
        assert report.success, f"autograding {student} failed: {report.error}"
        return {c.grade_id: (c.score, c.max_score) for c in report.cells if not c.manual}


def _notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


@pytest.fixture
def grading_course(tmp_path, request) -> GradingCourse:
    return GradingCourse(tmp_path / "course", request.param)


@pytest.mark.slow
@pytest.mark.parametrize("grading_course", ASSIGNMENTS, indirect=True)
def test_solution_scores_full_marks(grading_course):
    scores = grading_course.grade(
        "solution", _notebooks(REPO / "solutions" / grading_course.assignment)
    )
    assert scores, "the assignment has no autograded cells"
    short = {gid: s for gid, s in scores.items() if s[0] != s[1]}
    assert not short, f"solution cells without full marks (score, max): {short}"


@pytest.mark.slow
@pytest.mark.parametrize("grading_course", ASSIGNMENTS, indirect=True)
def test_untouched_release_scores_zero(grading_course):
    scores = grading_course.grade(
        "blank", _notebooks(REPO / "assignments" / grading_course.assignment)
    )
    assert len(scores) > 0, "the release has no autograded cells"
    earned = {gid: s for gid, s in scores.items() if s[0] != 0}
    assert not earned, f"the untouched release earns points in (score, max): {earned}"


def make_buggy(assignment: str, bugs: list[dict]) -> dict[str, nbformat.NotebookNode]:
    """The solution notebooks with each bug's substring edits applied to its cell."""
    notebooks = _notebooks(REPO / "solutions" / assignment)
    for bug in bugs:
        nb = notebooks[bug["notebook"]]
        cells = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == bug["cell"]
        ]
        assert len(cells) == 1, f"bug {bug['name']}: no single cell with grade_id {bug['cell']!r}"
        for old, new in bug["replace"]:
            assert old in cells[0].source, f"bug {bug['name']}: {old!r} not in {bug['cell']}"
            cells[0].source = cells[0].source.replace(old, new)
    return notebooks


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "bugs"), _bug_batches())
def test_buggy_submissions_lose_their_points(tmp_path, assignment, bugs):
    grading = GradingCourse(tmp_path / "course", assignment)
    scores = grading.grade("buggy", make_buggy(assignment, bugs))
    expected_zero = {}
    for bug in bugs:
        unknown = set(bug["loses"]) - set(scores)
        assert not unknown, f"bug {bug['name']} names unknown test cells {unknown}"
        expected_zero.update({gid: bug["name"] for gid in bug["loses"]})
    caught = {
        f"{name} (in {gid})": scores[gid]
        for gid, name in expected_zero.items()
        if scores[gid][0] != 0
    }
    assert not caught, f"bugs not caught, (score, max) of their test cells: {caught}"
    lost = {gid: s for gid, s in scores.items() if gid not in expected_zero and s[0] != s[1]}
    names = [b["name"] for b in bugs]
    assert not lost, f"bugs {names} also cost points in unrelated cells: {lost}"
