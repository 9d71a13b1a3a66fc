"""Intake: recognising notebooks by their graded cells, and LMS export folders."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.grading import intake

EXPECTED = {"svm.ipynb": {"test_svm_loss", "svm_loss"}, "softmax.ipynb": {"test_softmax"}}


def notebook(*grade_ids: str) -> bytes:
    cells = [
        nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {"grade_id": g}}) for g in grade_ids
    ]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells)).encode()


def test_notebooks_are_matched_by_grade_ids_not_names():
    files = {
        "svm (1).ipynb": notebook("svm_loss", "test_svm_loss"),
        "softmax.ipynb": notebook("test_softmax"),
        "helper.py": b"x = 1",
    }
    chosen, notes = intake.match_notebooks(files, EXPECTED, "02_linear")
    assert chosen == {"svm.ipynb": "svm (1).ipynb", "softmax.ipynb": "softmax.ipynb"}
    assert notes == ["svm (1).ipynb was graded as svm.ipynb"]


def test_foreign_unreadable_and_duplicate_notebooks_are_reported_not_guessed():
    files = {
        "homework.ipynb": notebook("something_else"),
        "broken.ipynb": b'{"cells": [',
        "svm.ipynb": b"not json",  # named as expected: graded (as 0) with the reason
        "a.ipynb": notebook("test_softmax"),
        "b.ipynb": notebook("test_softmax"),
    }
    chosen, notes = intake.match_notebooks(files, EXPECTED, "02_linear")
    assert chosen == {"svm.ipynb": "svm.ipynb"}
    assert (
        "homework.ipynb is not a notebook of 02_linear (none of its graded cells); left out"
        in notes
    )
    assert "broken.ipynb is not a readable notebook; left out" in notes
    assert any(
        n.startswith("a.ipynb, b.ipynb could each be softmax.ipynb; none was graded") for n in notes
    )


def test_the_exact_name_wins_over_copies():
    files = {"svm.ipynb": notebook("svm_loss"), "svm-Copy1.ipynb": notebook("svm_loss")}
    chosen, notes = intake.match_notebooks(files, EXPECTED, "02_linear")
    assert chosen == {"svm.ipynb": "svm.ipynb"}
    assert notes == ["svm-Copy1.ipynb is another copy of svm.ipynb; left out"]


@pytest.mark.parametrize(
    ("name", "pattern", "student"),
    [
        ("alice.ipynb", intake.ID_PATTERN, "alice"),
        ("alice_knn.ipynb", intake.ID_PATTERN, "alice"),
        ("alice.smith_01_knn.zip", intake.ID_PATTERN, "alice.smith"),
        ("readme.txt", intake.ID_PATTERN, None),
        ("smithjohn_12345_67890_knn.ipynb", r"^[^_]+_(?P<student>\d+)_", "12345"),
        ("smithjohn_LATE_12345_67890_knn.ipynb", r"^[^_]+_(?:LATE_)?(?P<student>\d+)_", "12345"),
    ],
)
def test_student_id_from_file_name(name, pattern, student):
    assert intake.student_of(name, pattern) == student


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_import_folder_unpacks_renames_and_reports(tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    export.mkdir()
    (export / "alice_svm.ipynb").write_bytes(notebook("svm_loss"))
    (export / "bob.zip").write_bytes(
        _zip(
            {
                "bob/svm.ipynb": notebook("svm_loss"),
                "bob/notes.py": b"# mine",
                "__MACOSX/bob/._svm.ipynb": b"junk",
            }
        )
    )
    (export / "carol.zip").write_bytes(b"not a zip at all")
    (export / "dave.zip").write_bytes(_zip({"../../evil.ipynb": notebook("svm_loss")}))
    (export / "erin.zip").write_bytes(_zip({"report.pdf": b"%PDF"}))
    (export / "notes.txt").write_text("grading notes")
    (export / "Ω!_svm.ipynb").write_bytes(notebook("svm_loss"))

    imported, problems = intake.import_folder(export, root, "02_linear", EXPECTED)
    assert sorted(imported) == ["alice", "bob"]
    assert (root / "submitted" / "alice" / "02_linear" / "svm.ipynb").is_file()
    bob = root / "submitted" / "bob" / "02_linear"
    assert sorted(p.name for p in bob.iterdir()) == ["notes.py", "svm.ipynb", "timestamp.txt"]
    text = "\n".join(problems)
    assert "carol: carol.zip is not a readable zip file" in text
    assert "dave: dave.zip holds a path outside its folder" in text
    assert "erin: erin.zip holds no notebook (.ipynb) at its top level" in text
    assert "notes.txt: not an .ipynb or .zip file" in text
    assert "student id 'Ω!' is not a safe folder name" in text
    assert not (tmp_path / "evil.ipynb").exists()


def test_import_folder_replaces_a_students_folder_whole(tmp_path):
    export, root = tmp_path / "export", tmp_path / "course"
    old = root / "submitted" / "alice" / "02_linear"
    old.mkdir(parents=True)
    (old / "stale.py").write_text("old")
    export.mkdir()
    (export / "alice.ipynb").write_bytes(notebook("svm_loss"))
    assert intake.import_folder(export, root, "02_linear", EXPECTED) == (["alice"], [])
    assert sorted(p.name for p in old.iterdir()) == ["svm.ipynb", "timestamp.txt"]
    assert [p.name for p in old.parent.iterdir()] == ["02_linear"]  # no temporary left over


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("(", "is not a regular expression"), ("^(?P<name>.+)$", "has no group named 'student'")],
)
def test_import_folder_bad_pattern(tmp_path, pattern, message):
    with pytest.raises(intake.IntakeError, match=message):
        intake.import_folder(tmp_path, tmp_path, "02_linear", EXPECTED, pattern)


def test_read_submission_skips_checkpoints_and_caps_size(tmp_path, monkeypatch):
    folder = tmp_path / "submitted" / "alice" / "02_linear"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / ".ipynb_checkpoints" / "svm-checkpoint.ipynb").write_bytes(notebook("svm_loss"))
    (folder / "svm.ipynb").write_bytes(notebook("svm_loss"))
    (folder / "data").mkdir()
    (folder / "data" / "x.json").write_text(json.dumps([1]))
    submission = intake.read_submission(folder, "alice", EXPECTED, "02_linear")
    assert sorted(submission.files) == ["data/x.json", "svm.ipynb"] and submission.notes == []
    monkeypatch.setattr(intake, "MAX_SUBMISSION_BYTES", 10)
    with pytest.raises(intake.IntakeError, match="holds more than"):
        intake.read_submission(folder, "alice", EXPECTED, "02_linear")


def test_grade_ids_of_non_notebooks():
    assert intake.grade_ids(b"[1, 2]") is None
    assert intake.grade_ids(b"\xff\xfe") is None
    assert intake.grade_ids(notebook("a", "b")) == {"a", "b"}
    assert intake.grade_ids(Path(__file__).read_bytes()) is None
