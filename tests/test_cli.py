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
    assert "FAIL   test_double  0/2  NotImplementedError" in out
    assert "Total: 0/5" in out
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
