"""Intake: turning what students handed in into one `Submission` per student.

Two sources:

- nbgrader's layout, `submitted/<student>/<assignment>/`, as `nbgrader collect` or an
  instructor's copy leaves it (`read_submission`);
- a folder of files as a learning-management system exports them (`import_folder`):
  one or more `.ipynb` or `.zip` files per student, the student id in the file name.
  By default (`ID_PATTERN`) the id is the name up to its first underscore, or up to the
  extension: `alice.ipynb`, `alice_knn.ipynb` and `alice_01_knn.zip` are all alice's.
  Another pattern is a regular expression with a group named `student`, searched in the
  file name, e.g. `^[^_]+_(?P<student>\\d+)_` for the numeric id in the second field of
  Canvas's `name_12345_67890_knn.ipynb`. The files are unpacked into submitted/ (nbgrader's
  layout again), so everything after intake works the same for both sources.

Notebooks are recognised by their graded cells, not by their file name: a notebook
renamed by the student (`knn-Copy1.ipynb`) is graded as the assignment's notebook whose
grade ids it holds, with a note. A file that is no notebook of this assignment is
reported and left out; two files that could each be the same notebook are reported and
neither is guessed.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cs231n_lib.grading.limits import MAX_FILES, MAX_SUBMISSION_BYTES

ID_PATTERN = r"^(?P<student>[^_]+?)(?:_.*)?\.(?:ipynb|zip)$"
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")  # a safe folder name for nbgrader
SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}


class IntakeError(Exception):
    """A submission or an export folder that cannot be read, explained in one line."""


@dataclass
class Submission:
    """One student's files for one assignment, ready to grade."""

    student: str
    files: dict[str, bytes]  # path inside the assignment folder -> content
    notes: list[str] = field(default_factory=list)  # what intake did or left out, and why


def grade_ids(text: bytes | str) -> set[str] | None:
    """The grade_ids of the nbgrader cells of a notebook's JSON, None if it is no notebook."""
    try:
        nb = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    ids = set()
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        if isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id"), str):
            ids.add(nbgrader["grade_id"])
    return ids


def match_notebooks(
    files: dict[str, bytes], expected: dict[str, set[str]], assignment: str
) -> tuple[dict[str, str], list[str]]:
    """Which submitted file is which notebook of the assignment.

    `expected` maps each notebook of the assignment (e.g. "knn.ipynb") to its grade_ids.
    Returns {expected name: submitted name} and notes that say what was renamed or left out.
    """
    chosen: dict[str, str] = {}
    notes: list[str] = []
    candidates: dict[str, list[str]] = {name: [] for name in expected}
    for name, data in sorted(files.items()):
        if not _is_top_notebook(name):
            continue
        ids = grade_ids(data)
        if ids is None:
            if name in expected:
                candidates[name].append(name)  # graded as 0, with the reason, by the worker
            else:
                notes.append(f"{name} is not a readable notebook; left out")
            continue
        overlap = {target: len(ids & target_ids) for target, target_ids in expected.items()}
        best = max(overlap, key=overlap.get, default=None)
        if best is None or overlap[best] == 0:
            notes.append(
                f"{name} is not a notebook of {assignment} (none of its graded cells); left out"
            )
            continue
        candidates[best].append(name)
    for target, names in candidates.items():
        if target in names:
            name_chosen = target
            notes += [
                f"{other} is another copy of {target}; left out"
                for other in names
                if other != target
            ]
        elif len(names) == 1:
            name_chosen = names[0]
            notes.append(f"{name_chosen} was graded as {target}")
        elif names:
            notes.append(
                f"{', '.join(names)} could each be {target}; none was graded: keep one "
                f"named {target} and grade this student again"
            )
            continue
        else:
            continue
        chosen[target] = name_chosen
    return chosen, notes


def _is_top_notebook(name: str) -> bool:
    return "/" not in name and name.endswith(".ipynb")


def read_submission(
    folder: Path, student: str, expected: dict[str, set[str]], assignment: str
) -> Submission:
    """The submission in `folder` (submitted/<student>/<assignment>/)."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.is_symlink() or _skipped(PurePosixPath(rel.as_posix())):
            continue
        total += path.stat().st_size
        if total > MAX_SUBMISSION_BYTES or len(files) >= MAX_FILES:
            raise IntakeError(
                f"{folder} holds more than {MAX_SUBMISSION_BYTES // 2**20} MiB or "
                f"{MAX_FILES} files; remove what is not part of the submission"
            )
        files[rel.as_posix()] = path.read_bytes()
    chosen, notes = match_notebooks(files, expected, assignment)
    kept = {name: data for name, data in files.items() if not _is_top_notebook(name)}
    kept.update({target: files[name] for target, name in chosen.items()})
    return Submission(student, kept, notes)


def _skipped(rel: PurePosixPath) -> bool:
    return any(part in SKIPPED_PARTS or part.startswith(".") for part in rel.parts)


def student_of(file_name: str, pattern: str = ID_PATTERN) -> str | None:
    """The student id in an exported file's name, or None if the pattern finds none."""
    match = re.search(pattern, file_name)
    if not match or not match.groupdict().get("student"):
        return None
    return match.group("student")


def check_pattern(pattern: str) -> None:
    """Raise IntakeError unless `pattern` is a regex with a group named `student`."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise IntakeError(f"--id-pattern {pattern!r} is not a regular expression: {exc}") from None
    if "student" not in compiled.groupindex:
        raise IntakeError(
            f"--id-pattern {pattern!r} has no group named 'student', e.g. (?P<student>...)"
        )


def import_folder(
    folder: Path,
    root: Path,
    assignment: str,
    expected: dict[str, set[str]],
    pattern: str = ID_PATTERN,
) -> tuple[list[str], list[str]]:
    """Unpack an export folder into submitted/<student>/<assignment>/.

    Notebooks recognised as the assignment's are stored under its names (knn.ipynb), as
    nbgrader expects; every other file keeps its name. Each student's folder is replaced
    as a whole, and only when all of that student's files could be read. Returns the
    students imported and one line per problem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise IntakeError(f"{folder} is not a folder of submissions")
    check_pattern(pattern)
    problems: list[str] = []
    by_student: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in {".ipynb", ".zip"}:
            problems.append(f"{path}: not an .ipynb or .zip file; left out")
            continue
        student = student_of(path.name, pattern)
        if student is None:
            problems.append(f"{path}: no student id in the name (pattern {pattern}); left out")
        elif not STUDENT_ID.fullmatch(student):
            problems.append(f"{path}: student id {student!r} is not a safe folder name; left out")
        else:
            by_student.setdefault(student, []).append(path)
    imported = []
    for student, paths in by_student.items():
        try:
            files = _unpack(paths)
        except IntakeError as exc:
            problems.append(f"{student}: {exc}; not imported")
            continue
        chosen, _ = match_notebooks(files, expected, assignment)
        # A rename never replaces another file of the student's.
        renamed = {
            name: target
            for target, name in chosen.items()
            if target not in files or target in chosen.values()
        }
        files = {renamed.get(name, name): data for name, data in files.items()}
        write_folder(root / "submitted" / student / assignment, files)
        imported.append(student)
    if not by_student and not problems:
        raise IntakeError(f"{folder} holds no .ipynb or .zip files")
    return imported, problems


def _unpack(paths: list[Path]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in paths:
        members = (
            {path.name: path.read_bytes()} if path.suffix.lower() == ".ipynb" else _read_zip(path)
        )
        for name, data in members.items():
            if name in files:
                raise IntakeError(f"two files are called {name} ({path.name} and an earlier one)")
            files[name] = data
        if sum(len(d) for d in files.values()) > MAX_SUBMISSION_BYTES:
            raise IntakeError(f"more than {MAX_SUBMISSION_BYTES // 2**20} MiB of files")
    return files


def _read_zip(path: Path) -> dict[str, bytes]:
    """The regular files of a zip, with a folder that holds everything stripped; no path
    may leave the submission folder and the total size is capped (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            names = [PurePosixPath(i.filename) for i in infos]
            if any(n.is_absolute() or ".." in n.parts for n in names):
                raise IntakeError(f"{path.name} holds a path outside its folder")
            keep = [(i, n) for i, n in zip(infos, names, strict=True) if not _skipped(n)]
            if len(keep) > MAX_FILES or sum(i.file_size for i, _ in keep) > MAX_SUBMISSION_BYTES:
                limit = f"{MAX_FILES} files or {MAX_SUBMISSION_BYTES // 2**20} MiB"
                raise IntakeError(f"{path.name} unpacks to more than {limit}")
            tops = {n.parts[0] for _, n in keep if len(n.parts) > 1}
            strip = len(tops) == 1 and all(len(n.parts) > 1 for _, n in keep)
            files = {}
            for info, name in keep:
                rel = PurePosixPath(*name.parts[1:]) if strip else name
                files[rel.as_posix()] = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise IntakeError(f"{path.name} is not a readable zip file ({exc})") from None
    if not any(_is_top_notebook(name) for name in files):
        raise IntakeError(f"{path.name} holds no notebook (.ipynb) at its top level")
    return files


def write_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write `files` (path -> content) as the folder `target`, replacing what was there
    only once all of them are written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    for name, data in files.items():
        path = fresh / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{fresh.name[-8:]}")
        target.rename(old)
    fresh.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
