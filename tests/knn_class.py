"""A generated class of 01_knn submissions with the score each must get.

Used by tests/test_grading_scale.py and benchmarks/grade_throughput.py. Every student
starts from the solution or the release notebook and changes it the way a real (or a
malicious) student would: plausible bugs from tests/buggy/01_knn.py, and each kind of
bad submission the grader must survive. `EXPECTED[student]` maps each autograded cell
to its points; `sandboxed` says whether the sandbox is active, which decides what a
student who reads the solutions gets.

To keep the class cheap, students have emptied the notebook's exploratory cells
(pictures, timings, the widget), as students may: those cells are not graded, and the
autograder then spends its time on kernels and tests, not on plots.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01_knn"
NOTEBOOK = "knn.ipynb"
POINTS = {
    "test_compute_distances_two_loops": 2,
    "test_compute_distances_one_loop": 2,
    "test_compute_distances_no_loops": 4,
    "test_compute_l1_distances": 2,
    "test_predict_labels": 4,
    "test_accuracy": 1,
    "test_cross_validate_k": 4,
}
ORDER = list(POINTS)  # the test cells in notebook order
PROBE_MARK = "SANDBOX-PROBE "  # the probe student prints its findings after this


def _solution() -> nbformat.NotebookNode:
    return nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)


def _release() -> nbformat.NotebookNode:
    return nbformat.read(REPO / "assignments" / ASSIGNMENT / NOTEBOOK, as_version=4)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _grade_id(c) == grade_id)


def cheap(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Empty the ungraded, unlocked code cells (plots, timings, widget), keep the rest."""
    for cell in nb.cells:
        if (
            cell.cell_type == "code"
            and not _grade_id(cell)
            and not cell.source.startswith("DATASET")
        ):
            cell.source = ""
    return nb


def _edit(nb, grade_id: str, old: str, new: str) -> None:
    cell = _cell(nb, grade_id)
    assert old in cell.source, f"{old!r} not in {grade_id}"
    cell.source = cell.source.replace(old, new, 1)


def _append(nb, grade_id: str, code: str) -> None:
    _cell(nb, grade_id).source += "\n\n" + code


def _scores(lost=(), not_run_from: str | None = None) -> dict[str, float]:
    """Full marks except the `lost` cells and every cell from `not_run_from` on."""
    scores = {gid: float(p) for gid, p in POINTS.items()}
    for gid in lost:
        scores[gid] = 0.0
    if not_run_from is not None:
        for gid in ORDER[ORDER.index(not_run_from) :]:
            scores[gid] = 0.0
    return scores


BODY_START = '    """\n    num_test, num_train = X.shape[0], X_train.shape[0]'


def build_class(
    folder: Path, sandboxed: bool, probe: dict | None = None
) -> dict[str, dict[str, float]]:
    """Write the class into `folder`/<student>/<assignment>/ (nbgrader's submitted/ layout)
    and return the expected autograded score of each student's cells.

    `probe` configures the sandbox-probe student: {"course": course root, "port": a TCP
    port the test listens on, "other": a path of another student's submission,
    "escape": a host path it tries to create}.
    """
    expected: dict[str, dict[str, float]] = {}
    notebooks: dict[str, nbformat.NotebookNode | bytes] = {}
    names: dict[str, str] = {}

    for i in range(3):
        notebooks[f"correct{i}"] = cheap(_solution())
        expected[f"correct{i}"] = _scores()
    notebooks["blank"] = cheap(_release())
    expected["blank"] = _scores(lost=ORDER)

    bugs = runpy.run_path(str(REPO / "tests" / "buggy" / f"{ASSIGNMENT}.py"))["BUGS"]
    for bug in bugs:
        nb = cheap(_solution())
        for old, new in bug["replace"]:
            _edit(nb, bug["cell"], old, new)
        notebooks[f"bug_{bug['name']}"] = nb
        expected[f"bug_{bug['name']}"] = _scores(lost=bug["loses"])

    # Two bugs in one submission lose both cells.
    nb = cheap(_solution())
    _edit(nb, "compute_l1_distances", "np.abs(diff).sum(axis=2)", "(diff**2).sum(axis=2)")
    _edit(nb, "accuracy", "np.mean(y_pred == y)", "np.sum(y_pred == y)")
    notebooks["two_bugs"] = nb
    expected["two_bugs"] = _scores(lost=["test_compute_l1_distances", "test_accuracy"])

    # An infinite loop: the cell times out, is interrupted, and the rest runs.
    nb = cheap(_solution())
    _edit(nb, "compute_l1_distances", "    ### BEGIN SOLUTION", "    while True:\n        pass")
    notebooks["infinite_loop"] = nb
    expected["infinite_loop"] = _scores(lost=["test_compute_l1_distances"])

    # A loop that swallows the interrupt: the kernel is stopped, later cells do not run.
    nb = cheap(_solution())
    _edit(
        nb,
        "accuracy",
        "    ### BEGIN SOLUTION",
        "    while True:\n        try:\n            while True:\n                pass\n"
        "        except KeyboardInterrupt:\n            pass",
    )
    notebooks["stubborn_loop"] = nb
    expected["stubborn_loop"] = _scores(not_run_from="test_accuracy")

    # A kernel crash: every test after the crash scores 0, every test before keeps its points.
    nb = cheap(_solution())
    _append(nb, "predict_labels", "import os\nos._exit(1)")
    notebooks["kernel_crash"] = nb
    expected["kernel_crash"] = _scores(not_run_from="test_predict_labels")

    # A memory bomb in a function: MemoryError at the limit, only its test fails.
    nb = cheap(_solution())
    _edit(
        nb,
        "compute_distances_one_loop",
        "    ### BEGIN SOLUTION",
        "    hoard = []\n    while True:\n        hoard.append(np.ones(2**27))  # 1 GiB each",
    )
    notebooks["memory_bomb"] = nb
    expected["memory_bomb"] = _scores(lost=["test_compute_distances_one_loop"])

    # stderr in student cells (a warning, a progress bar) costs nothing ...
    nb = cheap(_solution())
    _append(
        nb,
        "accuracy",
        "import warnings\nfrom tqdm.auto import tqdm\n\n"
        "warnings.warn('my own warning')\nfor _ in tqdm(range(3)):\n    pass",
    )
    notebooks["stderr_in_own_cell"] = nb
    expected["stderr_in_own_cell"] = _scores()
    # ... but a function that writes to stderr while a test cell calls it loses that cell.
    nb = cheap(_solution())
    _edit(
        nb,
        "accuracy",
        "    ### BEGIN SOLUTION",
        "    import sys\n    print('working...', file=sys.stderr)",
    )
    notebooks["stderr_in_test"] = nb
    expected["stderr_in_test"] = _scores(lost=["test_accuracy"])

    # A test cell edited to pass anything: the original runs and catches the bug.
    nb = cheap(_solution())
    _edit(nb, "accuracy", "np.mean(y_pred == y)", "np.sum(y_pred == y)")
    _cell(nb, "test_accuracy").source = "print('all good')"
    notebooks["edited_test"] = nb
    expected["edited_test"] = _scores(lost=["test_accuracy"])

    # A deleted test cell is put back and run: correct code keeps its points.
    nb = cheap(_solution())
    nb.cells = [c for c in nb.cells if _grade_id(c) != "test_cross_validate_k"]
    notebooks["deleted_test"] = nb
    expected["deleted_test"] = _scores()

    notebooks["renamed"] = cheap(_solution())
    names["renamed"] = "knn-Copy1.ipynb"
    expected["renamed"] = _scores()

    notebooks["invalid_json"] = b'{"cells": [{"cell_type": "code", '
    expected["invalid_json"] = _scores(lost=ORDER)

    # Not a notebook of this assignment: left out, so knn.ipynb is missing.
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    notebooks["wrong_notebook"] = other
    names["wrong_notebook"] = "homework.ipynb"
    expected["wrong_notebook"] = _scores(lost=ORDER)

    nb = cheap(_solution())
    _append(nb, "accuracy", "print('x' * 20_000_000)")
    notebooks["huge_output"] = nb
    expected["huge_output"] = _scores()

    # Reads the solutions (and the hidden tests in the gradebook) without catching errors:
    # in the sandbox the files are not there and the cell fails before its function.
    if probe is not None:
        nb = cheap(_solution())
        solutions = str(Path(probe["course"]) / "solutions" / ASSIGNMENT / NOTEBOOK)
        gradebook = str(Path(probe["course"]) / "gradebook.db")
        _cell(nb, "compute_distances_two_loops").source = (
            f"SOLUTIONS = open({solutions!r}).read()\n"
            f"GRADEBOOK = open({gradebook!r}, 'rb').read()\n\n"
            + _cell(nb, "compute_distances_two_loops").source
        )
        notebooks["reads_solutions"] = nb
        lost = ["test_compute_distances_two_loops"] if sandboxed else []
        expected["reads_solutions"] = _scores(lost=lost)

        nb = cheap(_solution())
        _append(nb, "accuracy", probe_code(probe))
        notebooks["sandbox_probe"] = nb
        expected["sandbox_probe"] = _scores()

    for student, nb in notebooks.items():
        target = folder / student / ASSIGNMENT
        target.mkdir(parents=True, exist_ok=True)
        path = target / names.get(student, NOTEBOOK)
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, path)
    return expected


def probe_code(probe: dict) -> str:
    """Code that tries to get out of the sandbox and prints what it found as JSON."""
    course = Path(probe["course"])
    targets = {
        "solutions": str(course / "solutions" / ASSIGNMENT / NOTEBOOK),
        "gradebook": str(course / "gradebook.db"),
        "other": str(probe["other"]),
        "escape": str(probe["escape"]),
    }
    return f"""import json, os, socket
found = {{}}
targets = {targets!r}
def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except BaseException as exc:
        found[name] = "blocked: " + type(exc).__name__
attempt("read_solutions", lambda: open(targets["solutions"]).read())
attempt("read_gradebook", lambda: open(targets["gradebook"], "rb").read())
attempt("read_other_student", lambda: os.listdir(targets["other"]))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {probe["port"]}), 3).close())
attempt("allocate", lambda: np.empty(2**31))  # 16 GiB
attempt("write_outside", lambda: open(targets["escape"], "w").write("escaped"))
print({PROBE_MARK!r} + json.dumps(found))
"""


def read_probe(autograded_notebook: Path) -> dict:
    """What the probe student printed, from its autograded notebook."""
    nb = json.loads(autograded_notebook.read_text())
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            if PROBE_MARK in text:
                line = text[text.index(PROBE_MARK) + len(PROBE_MARK) :].splitlines()[0]
                return json.loads(line)
    raise AssertionError(f"no {PROBE_MARK.strip()} line in {autograded_notebook}")


def copy_class(source: Path, destination: Path) -> None:
    """Copy a generated class (a submitted/ folder) elsewhere."""
    import shutil

    shutil.copytree(source, destination, dirs_exist_ok=True)


def realistic_class(folder: Path, count: int) -> dict[str, dict[str, float]]:
    """`count` complete submissions (nothing emptied): correct ones and one bug each in
    turn, as most of a real class hands in. Returns the expected scores."""
    bugs = runpy.run_path(str(REPO / "tests" / "buggy" / f"{ASSIGNMENT}.py"))["BUGS"]
    expected = {}
    for i in range(count):
        nb, student = _solution(), f"student{i:03d}"
        if i % 3:  # two in three have one bug
            bug = bugs[i % len(bugs)]
            for old, new in bug["replace"]:
                _edit(nb, bug["cell"], old, new)
            expected[student] = _scores(lost=bug["loses"])
        else:
            expected[student] = _scores()
        target = folder / student / ASSIGNMENT
        target.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target / NOTEBOOK)
    return expected
