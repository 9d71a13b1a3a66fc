"""The `cs231n` command on a tiny course built in a temporary folder."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(course: Path, *args: str) -> int:
    return main(["--course", str(course), *args])


def test_release_then_check_in_sync(demo_course, capsys):
    assert run(demo_course, "release") == 0
    release = demo_course / "assignments" / "00_demo" / "demo.ipynb"
    source = nbformat.read(release, as_version=4).cells[2].source
    assert "NotImplementedError" in source and "2 * x" not in source
    assert run(demo_course, "release", "--check") == 0
    assert "in sync" in capsys.readouterr().out


def test_release_check_names_notebook_after_solution_edit(demo_course, capsys):
    assert run(demo_course, "release") == 0
    path = demo_course / "solutions" / "00_demo" / "demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].source += "\nassert double(0) == 0"
    nbformat.write(nb, path)
    capsys.readouterr()
    assert run(demo_course, "release", "--check") == 1
    assert "assignments/00_demo/demo.ipynb (differs)" in capsys.readouterr().out


def test_release_check_names_missing_release(demo_course, capsys):
    assert run(demo_course, "release", "--check") == 1
    assert "assignments/00_demo/demo.ipynb (missing)" in capsys.readouterr().out


def test_release_unknown_assignment(demo_course, capsys):
    assert run(demo_course, "release", "99_nothing") == 2
    err = capsys.readouterr().err
    assert "unknown assignment '99_nothing'" in err and "00_demo" in err


def test_check_reports_each_cell(demo_course, capsys):
    assert run(demo_course, "release") == 0
    capsys.readouterr()
    blank = demo_course / "assignments" / "00_demo" / "demo.ipynb"
    before = blank.read_bytes()
    assert run(demo_course, "check", str(blank)) == 1
    out = capsys.readouterr().out
    assert "FAIL   test_double  0/2  NotImplementedError: still to write" in out
    assert "         | raised in solution cell double (line 3, in double)\n" in out, out
    assert "Total: 0/5" in out and "deleted" not in out
    assert blank.read_bytes() == before, "check must never write the student's notebook"

    nb = nbformat.read(blank, as_version=4)
    nb.cells[2].source = "def double(x):\n    return 2 * x"
    nb.cells[5].source += "\nimport sys; print('noise', file=sys.stderr)"  # edit a test cell
    done = demo_course / "half.ipynb"
    nbformat.write(nb, done)
    assert run(demo_course, "check", str(done)) == 1
    out = capsys.readouterr().out
    assert "PASS   test_double  2/2" in out
    assert "test cell test_square was edited" in out
    assert "Total: 2/5" in out


def test_check_solution_passes(demo_course, capsys):
    notebook = demo_course / "solutions" / "00_demo" / "demo.ipynb"
    assert run(demo_course, "check", str(notebook)) == 0
    assert "Total: 5/5 autograded points, all passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such notebook"),
        ('{"cells": [', "is not valid JSON (line 1"),
        ('{"cells": 3}', "is not a"),
        (json.dumps(nbformat.v4.new_notebook()), "has no autograded cells"),
    ],
)
def test_check_bad_notebook_one_line_error(tmp_path, capsys, content, message):
    path = tmp_path / "student.ipynb"
    if content is not None:
        path.write_text(content)
    assert main(["--course", str(REPO), "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def _submit(course: Path, student: str, notebook: Path) -> None:
    folder = course / "submitted" / student / "00_demo"
    folder.mkdir(parents=True)
    shutil.copy(notebook, folder / "demo.ipynb")


def test_grade_class(demo_course, capsys):
    assert run(demo_course, "release") == 0
    _submit(demo_course, "alice", demo_course / "solutions" / "00_demo" / "demo.ipynb")
    _submit(demo_course, "bob", demo_course / "assignments" / "00_demo" / "demo.ipynb")
    assert run(demo_course, "grade", "00_demo") == 0
    out = capsys.readouterr().out
    assert "alice: 5/5" in out and "bob: 0/5" in out
    with open(demo_course / "grades.csv") as f:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert rows == {"alice": 5.0, "bob": 0.0}
    assert (demo_course / "feedback" / "alice" / "00_demo" / "demo.html").is_file()
    # Re-grading one student keeps the other's grade.
    assert run(demo_course, "grade", "00_demo", "--student", "bob") == 0
    with open(demo_course / "grades.csv") as f:
        assert {r["student_id"] for r in csv.DictReader(f)} == {"alice", "bob"}


def test_grade_bad_input(demo_course, capsys):
    assert run(demo_course, "grade", "99_nothing") == 2
    assert "unknown assignment '99_nothing'" in capsys.readouterr().err
    assert run(demo_course, "grade", "00_demo") == 2
    assert "nothing to grade" in capsys.readouterr().err
    assert not (demo_course / "grades.csv").exists()


def test_data_list_and_unknown(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "cifar10" in out
    assert main(["data", "download", "imagenet"]) == 2
    assert "unknown data set 'imagenet'" in capsys.readouterr().err


def test_data_download_of_an_offline_data_set_downloads_nothing(capsys, monkeypatch):
    from cs231n_lib.data import cifar10

    def no_download(**kwargs):
        raise AssertionError("an offline data set must not start the CIFAR-10 download")

    monkeypatch.setattr(cifar10, "download", no_download)
    for name in ("digits", "shapes", "captions", "sequences"):
        assert main(["data", "download", name]) == 0
        assert "needs no download" in capsys.readouterr().out


def test_console_script_installed():
    exe = Path(sys.executable).parent / "cs231n"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("lab", "data", "release", "check", "grade"):
        assert command in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_lab_serves_assignments_over_http(tmp_path):
    port, token = _free_port(), "cs231n-test"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
    exe = Path(sys.executable).parent / "cs231n"
    args = [
        str(exe),
        "--course",
        str(REPO),
        "lab",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.ip=127.0.0.1",
    ]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, listing = time.monotonic() + 90, None
        while time.monotonic() < deadline and listing is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                assert server.poll() is None, "cs231n lab exited early"
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 90 s"
        names = {item["name"] for item in listing["content"]}
        expected = {p.name for p in (REPO / "assignments").iterdir() if p.is_dir()}
        assert expected and expected <= names, f"listed {names}, expected {expected}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}") as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- which course a command works on (issue 15, item 3) ---------------------------------


@pytest.mark.parametrize(
    ("layout", "why"),
    [
        ((), "no such folder"),
        (("empty/",), "it has no nbgrader_config.py and no solutions/ or assignments/"),
        (("empty/nbgrader_config.py",), "it has no solutions/ or assignments/"),
        (("empty/solutions/",), "it has no nbgrader_config.py"),
    ],
)
@pytest.mark.parametrize("command", [["release", "--check"], ["grade", "00_demo"], ["lab"]])
def test_course_that_is_not_a_course_is_refused(tmp_path, capsys, layout, why, command):
    for entry in layout:
        path = tmp_path / entry
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if entry.endswith("/") else path.write_text("")
    folder = tmp_path / "empty"
    assert main(["--course", str(folder), *command]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{folder} is not a course directory: {why} (a course holds" in err, err
    assert len(err.splitlines()) == 1, err


def test_check_refuses_a_course_that_is_not_one(tmp_path, capsys):
    notebook = tmp_path / "demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    assert main(["--course", str(tmp_path), "check", str(notebook)]) == 2
    assert "is not a course directory" in capsys.readouterr().err


def test_outside_any_course_says_to_cd_or_pass_course(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # read-only either way: an unknown assignment stops before anything is generated
    assert main(["release", "--check", "99_nothing"]) == 2
    err = capsys.readouterr().err
    assert "no course directory at or above" in err, err
    assert "cd into the course folder or pass --course DIR" in err


def test_course_found_from_a_folder_inside_it(demo_course, monkeypatch, capsys):
    assert run(demo_course, "release") == 0
    monkeypatch.chdir(demo_course / "assignments" / "00_demo")
    assert main(["release", "--check"]) == 0
    assert "in sync" in capsys.readouterr().out


@pytest.fixture
def student_edition(demo_course, tmp_path) -> Path:
    """A folder as a student downloads it: nbgrader_config.py and assignments/ only."""
    assert run(demo_course, "release") == 0
    edition = tmp_path / "edition"
    edition.mkdir()
    shutil.copy(demo_course / "nbgrader_config.py", edition)
    shutil.copytree(demo_course / "assignments", edition / "assignments")
    return edition


@pytest.mark.parametrize("command", ["release", "grade", "similarity"])
def test_instructor_commands_refuse_a_student_edition(student_edition, capsys, command):
    args = [command] if command == "release" else [command, "00_demo"]
    assert run(student_edition, *args) == 2
    err = capsys.readouterr().err
    assert f"{student_edition} has no solutions/ (a student edition?)" in err, err
    assert f"`cs231n {command}` runs in the instructor's course" in err


def test_lab_in_a_student_edition_with_a_port(student_edition, monkeypatch):
    started = []
    monkeypatch.setattr(os, "execv", lambda exe, command: started.append(command))
    monkeypatch.chdir(student_edition / "assignments" / "00_demo")
    assert main(["lab", "--port", "8890", "--no-browser"]) == 0
    (command,) = started
    assert f"--ServerApp.root_dir={student_edition / 'assignments'}" in command
    assert "--ServerApp.port=8890" in command and command[-1] == "--no-browser"


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_lab_bad_port(port, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "--port", port])
    assert exit_info.value.code == 2
    assert f"{port!r} is not a port number (1 to 65535)" in capsys.readouterr().err


def test_lab_help_describes_command_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["lab", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Start JupyterLab on the course's assignments/ folder" in out
    assert "--port N" in out and "go to JupyterLab as they are" in out


def test_check_works_from_any_folder(demo_course, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "lab-terminal"
    elsewhere.mkdir()
    shutil.copy(demo_course / "solutions" / "00_demo" / "demo.ipynb", elsewhere / "mine.ipynb")
    monkeypatch.chdir(elsewhere)
    assert main(["check", "mine.ipynb"]) == 0
    assert "Total: 5/5 autograded points, all passed" in capsys.readouterr().out


# --- summaries: points to grade by hand, sorted by student id (item 6) -------------------


def _cell(grade_id: str, score, max_score: float, status: str):
    from cs231n_lib.grading.results import CellOutcome

    return CellOutcome("demo", grade_id, score, max_score, manual=status == "manual", status=status)


def test_grade_summary_sorted_with_points_to_grade_by_hand(demo_course, monkeypatch, capsys):
    from cs231n_lib.grading import scale
    from cs231n_lib.grading.results import ClassReport, SubmissionReport

    def report(student: str, score: float, manual_score: float | None):
        test = _cell("test_a", score, 19, "passed" if score else "failed")
        return SubmissionReport(student, True, [test, _cell("e", manual_score, 2, "manual")])

    # in the order results arrive from parallel workers
    reports = [report("zoe", 19, 0), report("alice", 19, None), report("bob", 0, 1.5)]
    monkeypatch.setattr(scale, "grade_class", lambda *a, **k: ClassReport("00_demo", reports))
    assert run(demo_course, "grade", "00_demo", "--sandbox", "off") == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if ": " in line]
    students = [
        line.split(":")[0] for line in lines if line.split(":")[0] in {"zoe", "alice", "bob"}
    ]
    assert students == ["alice", "bob", "zoe"], lines
    assert "alice: 19/21 (+ 2 to grade by hand)" in lines
    assert "bob: 1.5/21  failed: test_a" in lines and "zoe: 19/21" in lines
    summary = [line for line in lines if line.startswith("to grade by hand:")]
    assert summary and "2 point(s) in 1 submission(s)" in summary[0]
    assert "points_to_grade_by_hand" in summary[0]


def test_grades_csv_sorted_with_points_to_grade_by_hand(demo_course, tmp_path, capsys):
    """A manually graded answer: alice's (changed) awaits the instructor, bob's (the
    release, unchanged) scores 0; a roster added in another order; nbgrader's student_id
    group in --id-pattern."""
    from nbgrader.api import Gradebook

    from cs231n_lib.grading import course

    path = demo_course / "solutions" / "00_demo" / "demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    meta = {"grade": True, "solution": True, "locked": False, "points": 2}
    meta |= {"grade_id": "explain", "schema_version": 3}
    nb.cells.append(
        nbformat.v4.new_markdown_cell("Doubling is linear.", metadata={"nbgrader": meta})
    )
    nbformat.write(nb, path)
    assert run(demo_course, "release") == 0
    with Gradebook(course.default_db_url(demo_course)) as gradebook:
        for student in ("carol", "bob", "alice"):  # the roster, not in id order
            gradebook.add_student(student)
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(path, export / "42_alice_demo.ipynb")
    shutil.copy(demo_course / "assignments" / "00_demo" / "demo.ipynb", export / "7_bob_demo.ipynb")
    pattern = r"^\d+_(?P<student_id>[a-z]+)_"
    args = ("grade", "00_demo", "--from", str(export), "--id-pattern", pattern)
    assert run(demo_course, *args) == 0
    out = capsys.readouterr().out
    assert "alice: 5/7 (+ 2 to grade by hand)\n" in out and "bob: 0/7  failed:" in out, out
    with open(demo_course / "grades.csv") as f:
        rows = [(r["student_id"], r["score"], r[course.PENDING_COLUMN]) for r in csv.DictReader(f)]
    assert rows == [("alice", "5.0", "2.0"), ("bob", "0.0", "0.0"), ("carol", "0.0", "0.0")]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"^(?P<name>[^_]+)_", "has no group named 'student' or 'student_id'"),
        (r"^(?P<student>[^_]+)_(?P<student_id>\d+)", "has both groups"),
    ],
)
def test_id_pattern_names_the_groups_it_needs(demo_course, tmp_path, capsys, pattern, message):
    args = ("grade", "00_demo", "--from", str(tmp_path), "--id-pattern", pattern)
    assert run(demo_course, *args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("group", ["student", "student_id"])
def test_id_pattern_group_student_or_student_id(group):
    from cs231n_lib.grading import intake

    pattern = rf"^[^_]+_(?P<{group}>\d+)_"
    intake.check_pattern(pattern)
    assert intake.student_of("smith_12345_knn.ipynb", pattern) == "12345"
