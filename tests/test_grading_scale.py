"""`cs231n grade` at class scale: a generated class of 01_knn graded with --jobs 2.

One module-scoped run grades the whole class (tests/knn_class.py: correct, buggy,
and every kind of bad submission), and the tests below check it from each side: every
expected score, the command's summary, the gradebook and CSVs, feedback without hidden
tests, the sandbox from inside a submission, a re-grade that keeps the other grades
and manual grades, and one submission of each kind again on a local Dask cluster.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import re
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from knn_class import ASSIGNMENT, NOTEBOOK, POINTS, build_class, read_probe

from cs231n_lib.cli import main
from cs231n_lib.grading import course, sandbox

REPO = Path(__file__).resolve().parents[1]
SANDBOXED = sandbox.detect_sandbox("auto").active
NO_SANDBOX = f"bubblewrap is unavailable here: {sandbox.detect_sandbox('auto').reason}"
# Small limits keep the class quick: the loops cost 15 s each, the bomb hits 2 GiB at once.
CELL_TIMEOUT = 15  # s; the slowest cell of the cheap 01_knn takes about 1 s
OPTIONS = ["--cell-timeout", str(CELL_TIMEOUT), "--notebook-timeout", "240", "--memory-limit", "2G"]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading_scale")]


@dataclass
class GradedClass:
    root: Path
    expected: dict[str, dict[str, float]]
    status: int
    out: str
    connections: list
    escape: Path


class Listener:
    """A TCP server on 127.0.0.1 that records who connects (the probe must not)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.connections: list = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, address = self.server.accept()
            except OSError:
                continue
            self.connections.append(address)
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.server.close()


def make_course(root: Path) -> Path:
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    return root


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(args))
    return status, out.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> GradedClass:
    root = make_course(tmp_path_factory.mktemp("class") / "course")
    listener = Listener()
    escape = root / "escaped.txt"
    probe = {
        "course": root,
        "port": listener.port,
        "other": root / "submitted" / "correct0" / ASSIGNMENT,
        "escape": escape,
    }
    expected = build_class(root / "submitted", SANDBOXED, probe)
    try:
        status, out = run_cli("--course", str(root), "grade", ASSIGNMENT, "--jobs", "2", *OPTIONS)
    finally:
        listener.close()
    return GradedClass(root, expected, status, out, listener.connections, escape)


def autograded_scores(root: Path, student: str) -> dict[str, float]:
    db_url = course.default_db_url(root)
    return {
        c.grade_id: c.score for c in course.read_scores(db_url, ASSIGNMENT, student) if not c.manual
    }


def test_class_is_big_enough(graded):
    assert len(graded.expected) >= 30, f"only {len(graded.expected)} submissions"
    assert graded.status == 0, graded.out


def test_every_submission_gets_its_expected_score(graded):
    wrong = {}
    for student, expected in graded.expected.items():
        scores = autograded_scores(graded.root, student)
        if scores != expected:
            wrong[student] = {
                g: (scores.get(g), e) for g, e in expected.items() if scores.get(g) != e
            }
    assert not wrong, f"(got, expected) per cell: {wrong}\n{graded.out}"
    with open(graded.root / "grades.csv") as f:
        totals = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert totals == {s: sum(e.values()) for s, e in graded.expected.items()}


@pytest.mark.parametrize(
    ("student", "message"),
    [
        ("infinite_loop", f"CellTimeoutError: the cell ran longer than {CELL_TIMEOUT} s"),
        ("stubborn_loop", "did not stop when interrupted"),
        ("kernel_crash", "the kernel died in cell predict_labels"),
        ("memory_bomb", "MemoryError"),
        ("stderr_in_test", "wrote to stderr (a test cell must stay quiet): working..."),
        ("edited_test", "test cell test_accuracy of knn.ipynb was edited"),
        ("deleted_test", "test cell test_cross_validate_k was missing from knn.ipynb"),
        ("renamed", "knn-Copy1.ipynb was graded as knn.ipynb"),
        ("invalid_json", "knn.ipynb is not valid JSON (line 1"),
        ("wrong_notebook", "homework.ipynb is not a notebook of 01_knn"),
        ("bug_accuracy_counts_instead_of_fraction", "test_accuracy (AssertionError: accuracy"),
    ],
)
def test_summary_and_feedback_say_why(graded, student, message):
    block = _student_block(graded.out, student)
    assert message in block, f"{message!r} not in the summary lines of {student}:\n{block}"
    text = _feedback_text(graded.root, student)
    assert message.split(" (")[0] in text, f"{message!r} not in {student}'s feedback"


def _student_block(out: str, student: str) -> str:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {student}: "))
    end = start + 1
    while end < len(lines) and lines[end].startswith("      note: "):
        end += 1
    return "\n".join(lines[start:end])


def _feedback_text(root: Path, student: str) -> str:
    page = (root / "feedback" / student / ASSIGNMENT / "knn.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _hidden_test_lines() -> set[str]:
    nb = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    hidden = set()
    for cell in nb.cells:
        source = cell.source
        while "### BEGIN HIDDEN TESTS" in source:
            start = source.index("### BEGIN HIDDEN TESTS")
            end = source.index("### END HIDDEN TESTS", start)
            hidden |= {line.strip() for line in source[start:end].splitlines()[1:]}
            source = source[end + 1 :]
    released = (REPO / "assignments" / ASSIGNMENT / NOTEBOOK).read_text()
    return {line for line in hidden if len(line) >= 25 and json.dumps(line)[1:-1] not in released}


def test_feedback_shows_results_but_no_hidden_test_source(graded):
    hidden = _hidden_test_lines()
    assert len(hidden) >= 10, hidden
    for student in graded.expected:
        text = _feedback_text(graded.root, student)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test lines: {leaked[:3]}"
        assert "Autograder results for knn.ipynb" in text
    # The visible tests and the failure messages are shown.
    text = _feedback_text(graded.root, "bug_l1_squared_differences")
    assert "check_close(" in text and "compute_l1_distances: visible tests passed" in text
    assert "failed: AssertionError" in text


def _manually_graded_ids():
    """The grade ids of the release's graded cells that are not tests (inline answers)."""
    nb = json.loads((REPO / "assignments" / ASSIGNMENT / NOTEBOOK).read_text())
    ids = set()
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id") not in POINTS:
            ids.add(meta["grade_id"])
    return ids


def test_gradebook_autograded_folders_and_cell_csvs(graded):
    root = graded.root
    for student in graded.expected:
        folder = root / "autograded" / student / ASSIGNMENT
        assert (folder / "cs231n_grading.json").is_file(), student
        if student != "wrong_notebook":
            assert (folder / NOTEBOOK).is_file(), f"no autograded notebook for {student}"
    huge = root / "autograded" / "huge_output" / ASSIGNMENT / NOTEBOOK
    assert huge.stat().st_size < 3_000_000, f"{huge} is {huge.stat().st_size} bytes"

    with open(root / "grades_by_cell.csv") as f:
        rows = list(csv.DictReader(f))
    manual = _manually_graded_ids()
    assert manual, "the release has no inline question"
    assert len(rows) == len(graded.expected) * (len(POINTS) + len(manual))
    assert {r["grade_id"] for r in rows} == set(POINTS) | manual
    by_key = {(r["student"], r["grade_id"]): float(r["score"]) for r in rows}
    for student, expected in graded.expected.items():
        for grade_id, score in expected.items():
            assert by_key[(student, grade_id)] == score
    with open(root / "grades_by_cell_summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert [s["grade_id"] for s in summary] and set(s["grade_id"] for s in summary) == set(POINTS)
    fractions = [float(s["failed_fraction"]) for s in summary]
    assert fractions == sorted(fractions, reverse=True)
    failed = {s: sum(1 for e in graded.expected.values() if e[s] < POINTS[s]) for s in POINTS}
    assert {s["grade_id"]: int(s["failed"]) for s in summary} == failed
    assert "tests the class fails most:" in graded.out


@pytest.mark.skipif(not SANDBOXED, reason=NO_SANDBOX)
def test_sandbox_seen_from_inside_a_submission(graded):
    autograded = graded.root / "autograded" / "sandbox_probe" / ASSIGNMENT / NOTEBOOK
    found = read_probe(autograded)
    assert set(found) == {
        "read_solutions", "read_gradebook", "read_other_student", "connect", "allocate",
        "write_outside",
    }  # fmt: skip
    allowed = {name: how for name, how in found.items() if not how.startswith("blocked")}
    assert not allowed, f"the sandbox let these through: {allowed}"
    assert "MemoryError" in found["allocate"]
    assert graded.connections == [], "a sandboxed kernel reached the grader's network"
    assert not graded.escape.exists()
    assert (
        autograded_scores(graded.root, "reads_solutions")["test_compute_distances_two_loops"] == 0
    )


def test_regrade_one_student_keeps_other_and_manual_grades(graded):
    from nbgrader.api import Gradebook

    root, db_url = graded.root, course.default_db_url(graded.root)
    with Gradebook(db_url) as gradebook:
        for student in ("correct0", "correct1"):
            grade = gradebook.find_grade("inline_question_1", "knn", ASSIGNMENT, student)
            grade.manual_score = 1.5
        gradebook.db.commit()
    before = {s: course.read_scores(db_url, ASSIGNMENT, s) for s in graded.expected}
    feedback = (root / "feedback" / "correct0" / ASSIGNMENT / "knn.html").read_bytes()

    status, out = run_cli(
        "--course", str(root), "grade", ASSIGNMENT, "--student", "correct1", *OPTIONS
    )
    assert status == 0, out
    after = {s: course.read_scores(db_url, ASSIGNMENT, s) for s in graded.expected}
    assert after == before, "re-grading correct1 changed grades"
    assert (root / "feedback" / "correct0" / ASSIGNMENT / "knn.html").read_bytes() == feedback
    with Gradebook(db_url) as gradebook:
        grade = gradebook.find_grade("inline_question_1", "knn", ASSIGNMENT, "correct1")
        assert grade.manual_score == 1.5 and grade.needs_manual_grade  # kept, to review
    assert "Score: 1.5 / 2.0" in _feedback_text(root, "correct1")


# The Dask run grades one of each way a submission goes (the whole class is graded above):
# it checks the scheduler path, not every submission a second time.
DASK_STUDENTS = (
    "correct0", "blank", "two_bugs", "renamed", "edited_test", "invalid_json",
    "infinite_loop", "kernel_crash", "memory_bomb",
)  # fmt: skip


def test_local_dask_cluster_gives_identical_grades(graded, tmp_path):
    from distributed import LocalCluster

    root = make_course(tmp_path / "course")
    for student in DASK_STUDENTS:
        assert student in graded.expected, f"no student {student} in the class"
        shutil.copytree(graded.root / "submitted" / student, root / "submitted" / student)
    # The probe's paths point into the first course; here it only must not fail.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        status, out = run_cli(
            "--course",
            str(root),
            "grade",
            ASSIGNMENT,
            "--scheduler",
            cluster.scheduler_address,
            *OPTIONS,
        )
    assert status == 0, out
    differ = {}
    for student in DASK_STUDENTS:
        dask, local = autograded_scores(root, student), autograded_scores(graded.root, student)
        if dask != local:
            cells = {g: (dask.get(g), local.get(g)) for g in local if dask.get(g) != local.get(g)}
            differ[student] = (cells, _cell_outputs(root, student, cells))
    assert not differ, f"(dask, local) scores per cell, and the dask run's outputs: {differ}\n{out}"


def _cell_outputs(root: Path, student: str, grade_ids) -> dict[str, str]:
    """The text outputs of the autograded notebook's cells `grade_ids` (for a failure's message)."""
    path = root / "autograded" / student / ASSIGNMENT / NOTEBOOK
    if not path.is_file():
        return {"(no autograded notebook)": str(path)}
    nb = nbformat.read(path, as_version=4)
    texts = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in grade_ids:
            parts = [
                o.get("text", "") or "\n".join(o.get("traceback", [])) or str(o.get("data", ""))
                for o in cell.get("outputs", [])
            ]
            texts[grade_id] = "\n".join(parts)[-3000:]
    return texts
