"""Intake under abuse: hostile archives, symbolic links and forged submission times.

One student's bad archive or folder is refused with the student's name and the reason;
it never stops the rest of the class, and nothing it names is followed or trusted.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from test_grading_intake import EXPECTED, notebook

from cs231n_lib.cli import main
from cs231n_lib.grading import intake

GOOD = notebook("svm_loss")


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _corrupt() -> bytes:
    data = bytearray(_zip([("svm.ipynb", GOOD * 20)]))
    start = data.index(b"svm.ipynb") + len("svm.ipynb")  # the deflated bytes follow
    data[start + 10 : start + 40] = b"\xff" * 30
    return bytes(data)


HOSTILE = {
    "dot": (_zip([(".", b"x"), ("svm.ipynb", GOOD)]), "holds a member named '.'"),
    "long": (
        _zip([("a" * 300 + ".py", b"x"), ("svm.ipynb", GOOD)]),
        "holds a file name longer than 255 bytes",
    ),
    "longdir": (
        _zip([("d" * 300 + "/a.py", b"x"), ("svm.ipynb", GOOD)]),
        "holds a file name longer than 255 bytes",
    ),
    "filefolder": (
        _zip([("x", b"x"), ("x/y.py", b"y"), ("svm.ipynb", GOOD)]),
        "holds a file and a folder named 'x'",
    ),
    "folderfile": (
        _zip([("x/y.py", b"y"), ("x", b"x"), ("svm.ipynb", GOOD)]),
        "holds a file and a folder named 'x'",
    ),
    "twice": (_zip([("svm.ipynb", GOOD), ("./svm.ipynb", GOOD)]), "holds two files named"),
    "absolute": (_zip([("/etc/evil.py", b"x"), ("svm.ipynb", GOOD)]), "a path outside"),
    "parent": (_zip([("a/../../evil.py", b"x"), ("svm.ipynb", GOOD)]), "a path outside"),
    "backslash": (_zip([("..\\evil.py", b"x"), ("svm.ipynb", GOOD)]), "a backslash"),
    "control": (_zip([("bad\x1b[2J.py", b"x"), ("svm.ipynb", GOOD)]), "control character"),
    "corrupt": (_corrupt(), "corrupt.zip is not a readable zip file"),
    "crowd": (
        _zip([(f"f{i}.py", b"") for i in range(intake.MAX_FILES + 1)] + [("svm.ipynb", GOOD)]),
        f"unpacks to more than {intake.MAX_FILES} files",
    ),
}


def test_hostile_archives_are_refused_each_with_its_student(tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    export.mkdir()
    (export / "alice.ipynb").write_bytes(GOOD)
    for student, (data, _) in HOSTILE.items():
        (export / f"{student}.zip").write_bytes(data)
    imported, problems = intake.import_folder(export, root, "02_linear", EXPECTED)
    assert imported == ["alice"], problems
    for student, (_, reason) in HOSTILE.items():
        mine = [p for p in problems if p.startswith(f"{student}: ")]
        assert len(mine) == 1 and reason in mine[0] and mine[0].endswith("not imported"), (
            student,
            problems,
        )
    submitted = root / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["alice"]  # no half-written folder
    assert not (tmp_path / "evil.py").exists() and not Path("/etc/evil.py").exists()


def test_symbolic_links_in_the_export_are_not_followed(tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    export.mkdir()
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(GOOD)
    (export / "mallory.ipynb").symlink_to(secret)
    (export / "alice.ipynb").write_bytes(GOOD)
    imported, problems = intake.import_folder(export, root, "02_linear", EXPECTED)
    assert imported == ["alice"]
    assert problems == [f"{export / 'mallory.ipynb'}: a symbolic link; left out, never followed"]


def test_symlinked_submission_folders_are_refused_and_links_inside_left_out(tmp_path):
    submitted = tmp_path / "submitted"
    real = submitted / "alice" / "02_linear"
    real.mkdir(parents=True)
    (real / "svm.ipynb").write_bytes(GOOD)
    (real / "passwd").symlink_to("/etc/passwd")
    (real / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    (submitted / "mallory").mkdir()
    (submitted / "mallory" / "02_linear").symlink_to(real, target_is_directory=True)
    (submitted / "trudy").symlink_to(submitted / "alice", target_is_directory=True)

    alice = intake.read_submission(real, "alice", EXPECTED, "02_linear")
    assert sorted(alice.files) == ["svm.ipynb"]
    assert alice.notes == [
        "elsewhere is a symbolic link; left out",
        "passwd is a symbolic link; left out",
    ]
    for student in ("mallory", "trudy"):
        with pytest.raises(intake.IntakeError, match="is a symbolic link"):
            intake.read_submission(
                submitted / student / "02_linear", student, EXPECTED, "02_linear"
            )


def test_the_submission_time_is_the_graders_not_the_students(tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    export.mkdir()
    archive = export / "carol.zip"
    archive.write_bytes(_zip([("svm.ipynb", GOOD), ("timestamp.txt", b"2000-01-01 00:00:00 UTC")]))
    collected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    os.utime(archive, (collected.timestamp(), collected.timestamp()))
    imported, problems = intake.import_folder(export, root, "02_linear", EXPECTED)
    assert imported == ["carol"]
    assert problems == [
        "carol: the submission's own timestamp.txt was left out; the submission time is "
        "when the file was collected"
    ]
    folder = root / "submitted" / "carol" / "02_linear"
    submission = intake.read_submission(folder, "carol", EXPECTED, "02_linear")
    assert submission.timestamp == "2030-01-02 03:04:05.000000 UTC"
    assert "timestamp.txt" not in submission.files  # never one of the student's files


# Through the command, on the demo course (seconds per submission).


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(args))
    return status, out.getvalue()


def _demo_notebooks(course: Path) -> tuple[bytes, bytes]:
    assert main(["--course", str(course), "release"]) == 0
    solution = (course / "solutions" / "00_demo" / "demo.ipynb").read_bytes()
    release = (course / "assignments" / "00_demo" / "demo.ipynb").read_bytes()
    return solution, release


@pytest.mark.slow
def test_grade_from_a_hostile_export_grades_the_rest_and_names_each_refusal(demo_course):
    solution, release = _demo_notebooks(demo_course)
    export = demo_course.parent / "export"
    export.mkdir()
    (export / "alice.ipynb").write_bytes(solution)
    (export / "bob.zip").write_bytes(_zip([("bob/demo.ipynb", release)]))
    hostile = {
        "dot": [(".", b"x")],
        "long": [("a" * 300 + ".py", b"x")],
        "filefolder": [("x", b"x"), ("x/y.py", b"y")],
        "absolute": [("/tmp/evil.py", b"x")],
    }
    for student, members in hostile.items():
        (export / f"{student}.zip").write_bytes(_zip([*members, ("demo.ipynb", solution)]))
    carol = export / "carol.zip"
    carol.write_bytes(_zip([("demo.ipynb", solution), ("timestamp.txt", b"yesterday")]))
    collected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    os.utime(carol, (collected.timestamp(), collected.timestamp()))

    status, out = _run("--course", str(demo_course), "grade", "00_demo", "--from", str(export))
    assert status == 1, out  # the refusals are problems
    assert "alice: 5/5" in out and "bob: 0/5" in out and "carol: 5/5" in out, out
    for student in hostile:
        assert f"intake: {student}: {student}.zip holds" in out, out
    assert "intake: carol: the submission's own timestamp.txt was left out" in out
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{demo_course / 'gradebook.db'}") as gradebook:
        stamp = gradebook.find_submission("00_demo", "carol").timestamp
    assert stamp.replace(tzinfo=UTC) == collected


@pytest.mark.slow
def test_grade_names_submissions_refused_for_size_or_symlinks(demo_course):
    solution, _ = _demo_notebooks(demo_course)
    submitted = demo_course / "submitted"
    alice = submitted / "alice" / "00_demo"
    alice.mkdir(parents=True)
    (alice / "demo.ipynb").write_bytes(solution)
    (alice / "passwd").symlink_to("/etc/passwd")
    crowd = submitted / "crowd" / "00_demo"
    crowd.mkdir(parents=True)
    (crowd / "demo.ipynb").write_bytes(solution)
    for i in range(intake.MAX_FILES):
        (crowd / f"f{i}.txt").write_bytes(b"")
    (submitted / "mallory").symlink_to(submitted / "alice", target_is_directory=True)
    # A forged time in nbgrader's layout that nbgrader cannot read: graded, not late.
    dave = submitted / "dave" / "00_demo"
    shutil.copytree(alice, dave, symlinks=True)
    (dave / "timestamp.txt").write_text("the day before the deadline")

    status, out = _run("--course", str(demo_course), "grade", "00_demo", "--jobs", "2")
    assert status == 1, out
    assert "alice: 5/5" in out and "note: passwd is a symbolic link; left out" in out, out
    assert "crowd: NOT GRADED: " in out and f"{intake.MAX_FILES} files" in out, out
    assert "mallory: NOT GRADED: " in out and "is a symbolic link" in out, out
    assert "dave: 5/5" in out and "is not a time; not late" in out, out
    assert "graded 2 of 4 submissions" in out, out
    assert nbformat.read(alice / "demo.ipynb", as_version=4)  # alice's files untouched
