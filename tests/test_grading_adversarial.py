"""The adversarial class: a hostile student's submissions, graded as `cs231n grade` does.

Each attack below once scored full marks with wrong or missing code, when test cells ran
in the student's kernel. Now every one must score what honest code of the same
correctness scores: the released notebook with the attack added and no implementation
scores 0 on every cell, and nothing of the hidden tests reaches the student's outputs.
The attacks work on any notebook; they run on 01_knn (and 02_linear for the package's
own implementations), each in a submission of its own so each is proven on its own.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.grading import sandbox
from cs231n_lib.grading.intake import Submission
from cs231n_lib.grading.scale import make_bundle
from cs231n_lib.grading.worker import grade_submission

REPO = Path(__file__).resolve().parents[1]

# Code a student puts at the top of their first solution cell (the knn release's functions
# stay unimplemented: they raise NotImplementedError or return nothing useful).
ATTACKS = {
    # Makes a test cell's first output an execute_result, which nbgrader's partial-credit
    # rule scored as full points before it looked at the AssertionError.
    "displayhook": """
import sys
def _score(*args, **kwargs):
    sys.displayhook(1e9)
    return None
compute_distances_two_loops = compute_distances_one_loop = _score
compute_distances_no_loops = compute_l1_distances = _score
""",
    # Clears the error of every cell after it ran.
    "post_run_cell": """
def _clear(result):
    result.error_in_exec = None
    result.error_before_exec = None
get_ipython().events.register("post_run_cell", _clear)
""",
    # Rewrites every later cell (the tests) to `pass`.
    "input_transformer": """
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
""",
    # Replaces the checkers with no-ops, in the module and in the notebook's namespace.
    "patched_checks": """
import cs231n_lib.checks as _checks
_noop = lambda *args, **kwargs: None
for _name in ("check_close", "check_equal", "check_shape", "assert_own_implementation",
              "assert_no_loops"):
    setattr(_checks, _name, _noop)
    globals()[_name] = _noop
import numpy as _np
_np.testing.assert_allclose = _noop
def _zeros(*args, **kwargs):
    return _np.zeros((len(args[0]), len(args[1]))) if len(args) > 1 else _np.zeros(1)
compute_distances_two_loops = compute_distances_one_loop = _zeros
compute_distances_no_loops = compute_l1_distances = predict_labels = accuracy = _zeros
""",
    # Returns an object whose __array__ walks the stack to the checker and hands back the
    # expected value it finds there.
    "lying_array": """
import inspect, numpy as _np
class _Liar:
    def __array__(self, dtype=None, copy=None):
        for frame in inspect.stack():
            for key in ("expected", "exp", "expected_shape", "want", "reference"):
                value = frame.frame.f_locals.get(key)
                if value is not None:
                    return _np.asarray(value)
        return _np.zeros((1, 1))
    shape = property(lambda self: _np.asarray(self).shape)
def _lie(*args, **kwargs):
    return _Liar()
compute_distances_two_loops = compute_distances_one_loop = _lie
compute_distances_no_loops = compute_l1_distances = predict_labels = _lie
""",
    # Prints the source of every cell the kernel runs, encoded, into the student's own
    # outputs (and so into the feedback).
    "leak_hidden_tests": """
import base64
def _leak(info):
    print("LEAK:" + base64.b64encode(info.raw_cell.encode()).decode())
get_ipython().events.register("pre_run_cell", _leak)
""",
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    def make(assignment: str):
        root = tmp_path_factory.mktemp(f"course-{assignment}")
        (root / "solutions").mkdir()
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        return make_bundle(root, assignment, sandbox_mode="auto",
                           sandbox_info=sandbox.detect_sandbox("auto"))  # fmt: skip

    made: dict = {}
    return lambda assignment: made.setdefault(assignment, make(assignment))


def _released(assignment: str, name: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "assignments" / assignment / name, as_version=4)


def _first_solution_cell(nb) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and c.cell_type == "code")  # fmt: skip


def _grade(bundle, student: str, name: str, nb):
    files = {name: nbformat.writes(nb).encode()}
    result = grade_submission(Submission(student, files), bundle)
    assert result.success, f"grading {student} failed: {result.error}"
    return result


def _hidden_lines(assignment: str, name: str) -> list[str]:
    """Distinctive lines of the hidden tests of a solution notebook (not in the release)."""
    released = nbformat.read(REPO / "assignments" / assignment / name, as_version=4)
    visible = "\n".join(c.source for c in released.cells)
    nb = nbformat.read(REPO / "solutions" / assignment / name, as_version=4)
    lines = []
    for cell in nb.cells:
        source = cell.source
        if "### BEGIN HIDDEN TESTS" in source:
            hidden = source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS")[0]
            lines += [line.strip() for line in hidden.splitlines() if len(line.strip()) > 30]
    return [line for line in lines if line not in visible]


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_what_missing_code_scores(bundle, attack):
    nb = _released("01_knn", "knn.ipynb")
    cell = _first_solution_cell(nb)
    cell.source = cell.source + "\n" + ATTACKS[attack]
    result = _grade(bundle("01_knn"), f"attacker_{attack}", "knn.ipynb", nb)
    scored = {c.grade_id: c.score for c in result.cells if c.status != "manual" and c.score}
    assert not scored, f"attack {attack!r} scored points with no implementation: {scored}"
    assert result.cells, "no graded cells came back"

    # Nothing of the hidden tests reaches what the student sees, encoded or not.
    student_outputs = []
    executed = nbformat.reads(result.autograded["knn.ipynb"].decode(), as_version=4)
    for out_cell in executed.cells:
        for output in out_cell.get("outputs", []):
            student_outputs.append(json.dumps(output))
    decoded = []
    for text in student_outputs:
        for token in text.split("LEAK:")[1:]:
            chunk = token.split("\\n")[0].split('"')[0]
            decoded.append(base64.b64decode(chunk + "==").decode(errors="replace"))
    feedback = "\n".join(v.decode(errors="replace") for k, v in result.feedback.items()
                         if k.endswith(".html"))  # fmt: skip
    for line in _hidden_lines("01_knn", "knn.ipynb"):
        assert not any(line in d for d in decoded), f"a hidden test line reached the kernel: {line}"
        assert line not in feedback, f"a hidden test line is in the feedback: {line}"
    if attack == "leak_hidden_tests":
        assert decoded, "the leaking hook ran no cell at all: the attack was not exercised"
        assert not any("check_" in d and "BEGIN HIDDEN" in d for d in decoded)


@pytest.mark.slow
def test_package_implementations_are_not_there_when_graded(bundle):
    """Calling the package's own SVM loss, by any lookup, is calling a stub."""
    nb = _released("02_linear", "svm.ipynb")
    attack = """
import importlib
_linear = importlib.import_module("cs231n_lib." + "models.linear")
_names = [n for n in dir(_linear) if "svm" in n.lower()]
def svm_loss_naive(W, X, y, reg):
    for name in _names:
        try:
            return getattr(_linear, name)(W, X, y, reg)
        except NotImplementedError:
            continue
    raise NotImplementedError("no package version to borrow")
svm_loss_vectorized = svm_loss_naive
"""
    cell = _first_solution_cell(nb)
    cell.source = cell.source + "\n" + attack
    result = _grade(bundle("02_linear"), "borrower", "svm.ipynb", nb)
    scored = {c.grade_id: c.score for c in result.cells if c.status != "manual" and c.score}
    borrowed = {gid: s for gid, s in scored.items() if "svm_loss" in gid}
    assert not borrowed, f"the package's SVM loss scored points for the student: {borrowed}"
