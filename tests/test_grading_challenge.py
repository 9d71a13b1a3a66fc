"""07_pytorch's design challenge is graded from a file the notebook saves, not from the
notebook alone: handed in as a zip with the notebook (as a learning-management system
exports it), the solution's trained weights reach the kernel's working folder and earn
the challenge's points; the same notebook without them earns none.

Only challenge.ipynb is handed in, so the assignment's other notebooks are not run.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from cs231n_lib.grading import intake, sandbox
from cs231n_lib.grading.intake import Submission
from cs231n_lib.grading.results import CellResult
from cs231n_lib.grading.scale import make_bundle
from cs231n_lib.grading.worker import AssignmentBundle, grade_submission

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "07_pytorch"
NOTEBOOK = "challenge.ipynb"
WEIGHTS = "challenge_weights.pt"
SOLUTION = REPO / "solutions" / ASSIGNMENT / NOTEBOOK
FIXTURE = Path(__file__).resolve().parent / "fixtures" / ASSIGNMENT / WEIGHTS
CHALLENGE_CELLS = {
    "test_challenge_model",
    "test_challenge_bar_1",
    "test_challenge_bar_2",
    "test_challenge_bar_3",
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> AssignmentBundle:
    """The bundle `cs231n grade` builds for 07_pytorch, from a scratch copy of the course."""
    root = tmp_path_factory.mktemp("course")
    (root / "solutions").mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    info = sandbox.detect_sandbox("auto")
    return make_bundle(root, ASSIGNMENT, sandbox_mode="auto", sandbox_info=info)


def challenge_cells(submission: Submission, bundle: AssignmentBundle) -> dict[str, CellResult]:
    result = grade_submission(submission, bundle)
    assert result.success, f"grading {submission.student} failed: {result.error}"
    cells = {c.grade_id: c for c in result.cells if c.notebook == "challenge"}
    assert CHALLENGE_CELLS <= set(cells), f"challenge.ipynb has no cells {CHALLENGE_CELLS}"
    return {gid: cells[gid] for gid in CHALLENGE_CELLS}


def _shown(cells: dict[str, CellResult]) -> dict[str, tuple]:
    return {gid: (c.score, c.max_score, c.status, c.message) for gid, c in cells.items()}


@pytest.mark.slow
def test_a_zip_with_the_weights_reaches_the_kernel_and_scores(bundle, tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    export.mkdir()
    # As students zip a folder: both files inside it (intake strips the folder).
    with zipfile.ZipFile(export / "alice_07_pytorch.zip", "w") as archive:
        archive.write(SOLUTION, f"07_pytorch/{NOTEBOOK}")
        archive.write(FIXTURE, f"07_pytorch/{WEIGHTS}")
    expected = {name: intake.grade_ids(data) for name, data in bundle.release.items()}
    imported, problems = intake.import_folder(export, root, ASSIGNMENT, expected)
    assert imported == ["alice"], problems
    folder = root / "submitted" / "alice" / ASSIGNMENT
    submission = intake.read_submission(folder, "alice", expected, ASSIGNMENT)
    assert submission.files[WEIGHTS] == FIXTURE.read_bytes(), "intake lost the weights file"

    cells = challenge_cells(submission, bundle)
    short = {gid: shown for gid, shown in _shown(cells).items() if shown[0] != shown[1]}
    assert not short, f"the solution with its weights misses points (score, max, ...): {short}"


@pytest.mark.slow
def test_the_notebook_without_its_weights_scores_zero(bundle):
    cells = challenge_cells(Submission("bob", {NOTEBOOK: SOLUTION.read_bytes()}), bundle)
    earned = {gid: shown for gid, shown in _shown(cells).items() if shown[0] != 0}
    assert not earned, f"points without challenge_weights.pt (score, max, ...): {earned}"
    assert WEIGHTS in cells["test_challenge_model"].message, (
        "the failure should tell the student to hand in challenge_weights.pt: "
        f"{cells['test_challenge_model'].message!r}"
    )
