"""`cs231n release --student-edition`: what a student downloads (grading/edition.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.cli import main
from cs231n_lib.grading import edition

REPO = Path(__file__).resolve().parents[1]
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
INSTRUCTOR_PATHS = ("solutions", "tests", "gradebook.db", "submitted", "autograded", "feedback")


def build(destination: Path, *options: str) -> int:
    return main(["--course", str(REPO), "release", "--student-edition", str(destination), *options])


@pytest.fixture(scope="module")
def full_edition(tmp_path_factory) -> Path:
    destination = tmp_path_factory.mktemp("edition") / "cs231n"
    assert build(destination) == 0
    return destination


def cell_lines(path: Path) -> set[str]:
    """Stripped, non-empty source lines of every cell of the notebook at `path`."""
    nb = nbformat.read(path, as_version=4)
    return {line.strip() for cell in nb.cells for line in cell.source.splitlines() if line.strip()}


def secret_lines(source: str) -> list[str]:
    """Stripped lines of a solution cell between BEGIN/END SOLUTION or HIDDEN TESTS."""
    found, inside = [], False
    for line in source.splitlines():
        if re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", line):
            inside = True
        elif re.search(r"END (SOLUTION|HIDDEN TESTS)", line):
            inside = False
        elif inside and line.strip():
            found.append(line.strip())
    return found


def edition_lines(folder: Path) -> dict[str, set[str]]:
    """Every file of an edition (relative path) -> its stripped lines; cells for notebooks."""
    lines = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".ipynb":
            lines[path.relative_to(folder).as_posix()] = cell_lines(path)
        else:
            text = path.read_text(errors="replace")
            lines[path.relative_to(folder).as_posix()] = {s.strip() for s in text.splitlines()}
    return lines


def solution_only_lines() -> set[str]:
    """Lines of solutions/ inside solution or hidden-test regions that neither the release
    nor the published package (every .py outside grading/, shipped as it is) contains."""
    secret = set()
    for path in sorted((REPO / "solutions").rglob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            secret.update(secret_lines(cell.source))
    public = set()
    for path in (REPO / "assignments").rglob("*.ipynb"):
        public |= cell_lines(path)
    for path in (REPO / "cs231n_lib").rglob("*.py"):
        if "grading" not in path.relative_to(REPO / "cs231n_lib").parts:
            public |= {line.strip() for line in path.read_text().splitlines()}
    return secret - public


def test_edition_holds_no_solution_or_hidden_test_line(full_edition):
    secret = solution_only_lines()
    assert len(secret) > 100, "the comparison would be vacuous: too few solution-only lines"
    leaks = {
        name: sorted(lines & secret)[:3]
        for name, lines in edition_lines(full_edition).items()
        if lines & secret
    }
    assert not leaks, f"solution or hidden-test lines in the student edition: {leaks}"
    for path in full_edition.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            marker = next((m for m in MARKERS if m in text), None)
            assert marker is None, f"{path.relative_to(full_edition)} contains {marker!r}"


def test_edition_has_every_release_and_no_instructor_file(full_edition):
    for path in (REPO / "assignments").rglob("*.ipynb"):
        copy = full_edition / path.relative_to(REPO)
        assert copy.read_bytes() == path.read_bytes(), f"{copy} is not the release"
    for name in INSTRUCTOR_PATHS:
        found = list(full_edition.rglob(name))
        assert not found, f"instructor material in the edition: {found}"
    assert not list(full_edition.rglob("buggy*")), "buggy submissions in the edition"
    grading = {p.name for p in (full_edition / "cs231n_lib" / "grading").iterdir()}
    assert {"selfcheck.py", "notebooks.py", "results.py", "limits.py"} <= grading
    instructor = {"trusted.py", "sandbox.py", "withhold.py", "worker.py", "feedback.py"}
    assert not grading & instructor, f"grader modules shipped: {sorted(grading & instructor)}"
    assert not grading & {"edition.py", "edition_files"}
    for name in ["README.md", "Makefile", "pyproject.toml", "nbgrader_config.py", "data/README.md"]:
        assert (full_edition / name).is_file(), f"{name} missing from the edition"


def test_edition_keeps_the_release_where_cs231n_check_finds_it(full_edition):
    from cs231n_lib.grading.selfcheck import RELEASE_COPY, find_release

    notebook = full_edition / "assignments" / "01_knn" / "knn.ipynb"
    copy = full_edition / RELEASE_COPY / "01_knn" / "knn.ipynb"
    assert copy.read_bytes() == (REPO / "assignments" / "01_knn" / "knn.ipynb").read_bytes()
    nb = nbformat.read(notebook, as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.remove(tests[0])  # a student deletes a test cell
    found = find_release(notebook, nb)
    assert found is not None, "cs231n check cannot find the release in the student edition"
    assert RELEASE_COPY in str(found[1])


def test_grading_modules_follow_the_student_commands_imports():
    needed = edition.student_grading_modules()
    assert "selfcheck.py" in needed and "course.py" in needed  # check; lab finds the course
    assert "scale.py" not in needed  # imported by `cmd_grade` only
    assert needed == sorted(set(needed)) and needed[0] == "__init__.py"


def test_edition_is_a_course_for_cs231n_lab(full_edition):
    from cs231n_lib.grading.course import find_course_root

    assert find_course_root(full_edition / "assignments" / "01_knn") == full_edition.resolve()


def test_upto_02_linear_has_01_and_02_only(tmp_path, capsys):
    destination = tmp_path / "cs231n"
    assert build(destination, "--upto", "02_linear") == 0
    folders = sorted(p.name for p in (destination / "assignments").iterdir())
    assert folders == ["01_knn", "02_linear"]
    marker = json.loads((destination / edition.MARKER).read_text())
    assert marker["assignments"] == ["01_knn", "02_linear"]
    assert "01_knn, 02_linear" in capsys.readouterr().out


def test_unknown_upto_is_refused_and_writes_nothing(tmp_path, capsys):
    destination = tmp_path / "cs231n"
    assert build(destination, "--upto", "99_nothing") == 2
    error = capsys.readouterr().err
    assert "99_nothing" in error and "01_knn" in error, error
    assert not destination.exists()


def test_upto_needs_student_edition(capsys):
    assert main(["--course", str(REPO), "release", "--upto", "01_knn"]) == 2
    assert "--student-edition" in capsys.readouterr().err


def test_non_empty_folder_is_refused_and_left_alone(tmp_path, capsys):
    destination = tmp_path / "mine"
    destination.mkdir()
    (destination / "notes.txt").write_text("my notes")
    assert build(destination) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in destination.iterdir()] == ["notes.txt"]
    assert (destination / "notes.txt").read_text() == "my notes"


def test_folder_inside_the_course_release_is_refused(capsys):
    assert build(REPO / "assignments" / "edition") == 2
    assert "folder of its own" in capsys.readouterr().err
    assert not (REPO / "assignments" / "edition").exists()


def test_earlier_edition_gets_new_assignments_and_keeps_the_students_work(tmp_path, capsys):
    destination = tmp_path / "cs231n"
    assert build(destination, "--upto", "01_knn") == 0
    knn = destination / "assignments" / "01_knn" / "knn.ipynb"
    nb = nbformat.read(knn, as_version=4)
    nb.cells[0].source += "\nmy answer"
    nbformat.write(nb, knn)
    student_work = knn.read_bytes()
    (destination / "assignments" / "01_knn" / "scratch.py").write_text("x = 1")
    capsys.readouterr()

    assert build(destination, "--upto", "02_linear") == 0
    out = capsys.readouterr().out
    assert "updated" in out and "kept the student's assignments/01_knn/knn.ipynb" in out, out
    assert knn.read_bytes() == student_work
    assert (destination / "assignments" / "01_knn" / "scratch.py").read_text() == "x = 1"
    assert (destination / "assignments" / "02_linear" / "svm.ipynb").is_file()


def test_unreadable_marker_is_refused(tmp_path, capsys):
    destination = tmp_path / "cs231n"
    destination.mkdir()
    (destination / edition.MARKER).write_text("not json")
    assert build(destination) == 2
    assert edition.MARKER in capsys.readouterr().err


def test_pyproject_has_the_course_runtime_dependencies_and_no_dev_extra(full_edition):
    course = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ours = tomllib.loads((full_edition / "pyproject.toml").read_text())
    assert ours["project"]["dependencies"] == course["dependencies"]
    assert "torch==2.13.0" in ours["project"]["dependencies"]
    assert "optional-dependencies" not in ours["project"]
    assert ours["project"]["scripts"] == {"cs231n": "cs231n_lib.cli:main"}


def test_makefile_and_readme_give_two_commands(full_edition):
    makefile = (full_edition / "Makefile").read_text()
    assert re.search(r"^setup:", makefile, re.M) and re.search(r"^lab: setup", makefile, re.M)
    assert "torch==2.13.0 is the CPU build" in makefile
    assert "pip install --quiet -e ." in makefile and "[dev]" not in makefile
    assert "JUPYTER_CONFIG_DIR := $(abspath jupyter)" in makefile
    readme = (full_edition / "README.md").read_text()
    for step in ["make setup", "make lab", "cs231n check", "Validate", "Hand it in"]:
        assert step in readme, f"README lacks {step!r}"


def test_jupyter_config_turns_the_instructor_ui_off(full_edition):
    config = full_edition / "jupyter"
    server = json.loads((config / "jupyter_server_config.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.validate_assignment"] is True
    disabled = json.loads((config / "labconfig" / "page_config.json").read_text())
    disabled = {name for name, off in disabled["disabledExtensions"].items() if off}
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= disabled
    # The names are nbgrader's own: a renamed plugin would silently stay on.
    static = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
    shipped = "".join(p.read_text(errors="replace") for p in static.rglob("*.js"))
    for name in disabled:
        assert f'"{name}"' in shipped, f"nbgrader has no lab plugin {name}"


def _effective_server_extensions() -> str:
    """Python that prints the nbgrader server extensions a server started here enables."""
    return (
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize(argv=['--port=0', '--ServerApp.open_browser=False'])\n"
        "print(sorted(k for k, v in app.extension_manager.extensions.items()"
        " if v.enabled and 'nbgrader' in k))\n"
    )


@pytest.mark.slow
def test_edition_installs_in_a_fresh_venv_and_checks_a_release_notebook(full_edition, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The fresh venv sees this venv's packages (no downloads) but not its cs231n_lib:
    # a plain path in a .pth does not run this venv's own .pth files (its editable install).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "course_packages.pth").write_text("".join(f"{path}\n" for path in ours))
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    pip += ["--no-deps", "--no-build-isolation", "--no-index", "-e", str(full_edition)]
    subprocess.run(pip, check=True, capture_output=True)

    folder = full_edition / "assignments" / "01_knn"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
    env |= {"CS231N_FAST": "1", "JUPYTER_CONFIG_DIR": str(full_edition / "jupyter")}
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import cs231n_lib; from jupyter_client.kernelspec import KernelSpecManager as K; "
            "from traitlets.config.loader import PyFileConfigLoader as L; "
            "print(cs231n_lib.__file__); print(K().get_kernel_spec('python3').argv[0]); "
            "print(L('nbgrader_config.py', path='..').load_config().CourseDirectory.root)",
        ],
        cwd=full_edition / "assignments",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where == [
        str(full_edition / "cs231n_lib" / "__init__.py"),
        str(python),
        str(full_edition),
    ]

    untouched = folder / "knn.ipynb"
    before = untouched.read_bytes()
    check = subprocess.run(
        [str(venv / "bin" / "cs231n"), "check", "knn.ipynb"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 1, check.stdout + check.stderr
    assert re.search(r"Total: 0/\d+ autograded points", check.stdout), check.stdout
    assert "NotImplementedError" in check.stdout and "Traceback" not in check.stderr
    assert untouched.read_bytes() == before

    server = subprocess.run(
        [str(python), "-c", _effective_server_extensions()],
        cwd=full_edition,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert server.stdout.strip() == "['nbgrader.server_extensions.validate_assignment']", (
        server.stdout + server.stderr[-2000:]
    )
