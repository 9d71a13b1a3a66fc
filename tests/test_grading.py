"""The grading contract of DESIGN.md, checked for every assignment folder in solutions/.

For each assignment: assignments/ is what nbgrader makes from solutions/ now; the
solution submitted as a student's, with every local variable renamed to a
forbidden-looking name (tests/renamed_locals.py), scores full marks; the untouched release
scores 0; each buggy submission of tests/buggy/<assignment>.py loses exactly the points of
the cells it names and keeps all others (so the solution as written is graded there). Every
submission made from the solution is handed in with the files of
tests/fixtures/<assignment>/ but its README.md, as a student hands in what a notebook
saved (07's trained weights).

Every submission is graded as `cs231n grade` grades it: by `worker.grade_submission`,
with the bundle `scale.make_bundle` builds (sandboxed kernel when bubblewrap works,
locked cells restored, the limits of nbgrader_config.py). Each test grades one
submission, so each notebook runs once per test.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import nbformat
import pytest
import renamed_locals

from cs231n_lib.grading import course, sandbox
from cs231n_lib.grading.intake import Submission
from cs231n_lib.grading.results import CellResult, SubmissionResult
from cs231n_lib.grading.scale import make_bundle
from cs231n_lib.grading.worker import AssignmentBundle, grade_submission

REPO = Path(__file__).resolve().parents[1]
BUGGY = Path(__file__).resolve().parent / "buggy"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASSIGNMENTS = course.list_assignments(REPO)


def _bug_batches() -> list:
    """Buggy submissions packed into as few grading runs as possible.

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
            for batch in batches:
                if all(_touched(bug).isdisjoint(_touched(other)) for other in batch):
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


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    """bundle(assignment): the AssignmentBundle of `cs231n grade`, built once per test
    process (xdist worker) from a scratch copy of the course, so the course's own
    gradebook.db is never touched."""
    built: dict[str, AssignmentBundle] = {}
    # The machine's sandbox, probed once, as the command hands it to its local workers.
    info = sandbox.detect_sandbox("auto")

    def bundle(assignment: str) -> AssignmentBundle:
        if assignment not in built:
            root = tmp_path_factory.mktemp(f"course-{assignment}")
            (root / "solutions").mkdir()
            shutil.copy(REPO / "nbgrader_config.py", root)
            shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
            built[assignment] = make_bundle(
                root, assignment, sandbox_mode="auto", sandbox_info=info
            )
        return built[assignment]

    return bundle


def test_bundle_warms_the_caches_a_sandboxed_kernel_only_reads(bundles):
    """The sandbox shows the data directory read-only: the grader trains 08's caption
    features there first, or every submission would train them again."""
    from cs231n_lib.blocks.caption_features import cache_path

    bundles("08_rnn")
    assert cache_path(0, "fast").is_file(), "the bundle did not cache the fast caption features"


def grade(
    bundle: AssignmentBundle,
    student: str,
    notebooks: dict[str, nbformat.NotebookNode],
    other_files: dict[str, bytes] | None = None,
) -> dict[str, CellResult]:
    """Grade `notebooks` (file name -> notebook) and `other_files` (name -> bytes) as
    `student`'s submission, as `cs231n grade` does; returns {grade_id: CellResult} of the
    autograded cells."""
    result = grade_result(bundle, student, notebooks, other_files)
    return {c.grade_id: c for c in result.cells if c.status != "manual"}


def grade_result(
    bundle: AssignmentBundle,
    student: str,
    notebooks: dict[str, nbformat.NotebookNode],
    other_files: dict[str, bytes] | None = None,
) -> SubmissionResult:
    """grade()'s whole SubmissionResult (the autograded notebooks included)."""
    files = dict(other_files or {})
    files |= {name: nbformat.writes(nb).encode() for name, nb in notebooks.items()}
    result = grade_submission(Submission(student, files), bundle)
    assert result.success, f"grading {student} failed: {result.error}"
    return result


def errors_outside_tests(result: SubmissionResult) -> list[str]:
    """The errors that cells other than the graded test cells raised in the autograded
    notebooks (the kernel imports the package copy without the notebook's answers)."""
    found = []
    for name, data in sorted(result.autograded.items()):
        if not name.endswith(".ipynb"):
            continue
        for index, cell in enumerate(nbformat.reads(data.decode(), as_version=4).cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
                continue
            found += [
                f"{name} cell {index}: {out.get('ename')}: {str(out.get('evalue'))[:300]}"
                for out in cell.get("outputs", [])
                if out.get("output_type") == "error"
            ]
    return found


def _shown(cell: CellResult) -> tuple:
    """(score, max, why) of a cell, for a failure message."""
    why = f"{cell.status}: {cell.message}" if cell.message else cell.status
    return cell.score, cell.max_score, why


def _notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def fixture_files(assignment: str) -> dict[str, bytes]:
    """What the solution is handed in with besides its notebooks: the files of
    tests/fixtures/<assignment>/ but its README.md (none without that folder)."""
    folder = FIXTURES / assignment
    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
    return {name: path.read_bytes() for name, path in files.items() if name != "README.md"}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_under_any_local_names(bundles, assignment):
    """The solution, every local variable renamed to a forbidden-looking name, scores full
    marks, and none of its other cells fails in the grader's kernel (the package copy
    without the notebook's answers: what the notebook needs from other notebooks is still
    there). The solution as written is graded in every buggy submission too: each cell no
    bug of the batch touches must keep its points there. Only when this fails is the
    solution as written graded as well, to tell a failing solution from a check that
    judges local names."""
    notebooks = _notebooks(REPO / "solutions" / assignment)
    pool = renamed_locals.forbidden_words(notebooks.values()) + list(renamed_locals.GENERIC)
    renamed, count = {}, 0
    for name, nb in notebooks.items():
        renamed[name], n = renamed_locals.rename_locals(nb, pool)
        count += n
    assert count, "no local variable was renamed: is tests/renamed_locals.py still working?"
    result = grade_result(bundles(assignment), "renamed", renamed, fixture_files(assignment))
    cells = {c.grade_id: c for c in result.cells if c.status != "manual"}
    assert cells, "the assignment has no autograded cells"
    errors = errors_outside_tests(result)
    assert not errors, (
        "cells of the solution fail in the grader's kernel, which imports the package without "
        f"the notebook's answers and oracles (does a cell call one?): {errors}"
    )
    short = {gid: _shown(c) for gid, c in cells.items() if c.score != c.max_score}
    if not short:
        return
    plain = grade(bundles(assignment), "solution", notebooks, fixture_files(assignment))
    plain_short = {gid: _shown(c) for gid, c in plain.items() if c.score != c.max_score}
    assert not plain_short, f"solution cells without full marks (score, max, why): {plain_short}"
    raise AssertionError(
        f"a correct solution whose {count} locals carry names such as "
        f"{pool[:6]} loses points (score, max, why): {short}, while the solution as written "
        "scores full marks; an own-implementation check must judge what code calls, never "
        "its local names"
    )


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(bundles, assignment):
    cells = grade(bundles(assignment), "blank", _notebooks(REPO / "assignments" / assignment))
    assert cells, "the release has no autograded cells"
    earned = {gid: _shown(c) for gid, c in cells.items() if c.score != 0}
    assert not earned, f"the untouched release earns points in (score, max, why): {earned}"


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
def test_buggy_submissions_lose_their_points(bundles, assignment, bugs):
    buggy = make_buggy(assignment, bugs)
    cells = grade(bundles(assignment), "buggy", buggy, fixture_files(assignment))
    expected_zero = {}
    for bug in bugs:
        unknown = set(bug["loses"]) - set(cells)
        assert not unknown, f"bug {bug['name']} names unknown test cells {unknown}"
        expected_zero.update({gid: bug["name"] for gid in bug["loses"]})
    missed = {
        f"{name} (in {gid})": _shown(cells[gid])
        for gid, name in expected_zero.items()
        if cells[gid].score != 0
    }
    assert not missed, f"bugs not caught, (score, max, why) of their test cells: {missed}"
    lost = {
        gid: _shown(c)
        for gid, c in cells.items()
        if gid not in expected_zero and c.score != c.max_score
    }
    names = [b["name"] for b in bugs]
    assert not lost, f"bugs {names} also cost points in unrelated cells (score, max, why): {lost}"
