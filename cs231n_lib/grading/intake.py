"""Intake: turning what students handed in into one `Submission` per student.

Two sources:

- nbgrader's layout, `submitted/<student>/<assignment>/`, as `nbgrader collect` or an
  instructor's copy leaves it (`read_submission`);
- a folder of files as a learning-management system exports them (`import_folder`):
  one or more `.ipynb` or `.zip` files per student, the student id in the file name.
  By default (`ID_PATTERN`) the id is the name up to its first underscore, or up to the
  extension: `alice.ipynb`, `alice_knn.ipynb` and `alice_01_knn.zip` are all alice's.
  Another pattern is a regular expression with a group named `student` (or `student_id`,
  as in nbgrader's `zip_collect` patterns), searched in the file name, e.g.
  `^[^_]+_(?P<student>\\d+)_` for the numeric id in the second field of Canvas's
  `name_12345_67890_knn.ipynb`. The files are unpacked into submitted/ (nbgrader's
  layout again), so everything after intake works the same for both sources.

Notebooks are recognised by their graded cells, not by their file name: a notebook
renamed by the student (`knn-Copy1.ipynb`) is graded as the assignment's notebook whose
grade ids it holds, with a note. A file that is no notebook of this assignment is
reported and left out; two files that could each be the same notebook are reported and
neither is guessed.

Intake refuses, for one student at a time and with the reason, whatever it cannot store
safely: a member that leaves its folder, a name that is no file name (`.`, a control
character, a backslash, a name longer than the file system allows), a file and a folder
of the same name, an unreadable or encrypted archive, a symbolic link. The rest of the
class is imported and graded as usual.

The submission time is the grader's: `timestamp.txt` at the top of
submitted/<student>/<assignment>/ is the record `nbgrader collect` writes, and
`import_folder` writes it from the time the exported file reached the grader's disk (its
modification time), never from a `timestamp.txt` a student put in a zip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from cs231n_lib.grading.limits import MAX_FILES, MAX_SUBMISSION_BYTES

ID_PATTERN = r"^(?P<student>[^_]+?)(?:_.*)?\.(?:ipynb|zip)$"
ID_GROUPS = ("student", "student_id")  # the id's group: ours, or nbgrader zip_collect's
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")  # a safe folder name for nbgrader
SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}
TIMESTAMP_FILE = "timestamp.txt"  # nbgrader's record of the submission time
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # as nbgrader's exchange writes it
# NOTE: name limits of the file systems submissions are written to (Linux NAME_MAX is 255
# bytes per name); not grading limits, so they live here and not in limits.py.
MAX_NAME_BYTES = 255  # per file or folder name
MAX_PATH_BYTES = 1024  # per path inside a submission, well under PATH_MAX with the course's
MAX_TIMESTAMP_CHARS = 100  # a timestamp.txt longer than this is no time
# What a broken or hostile archive raises while it is read (zlib: corrupt deflate data,
# RuntimeError: encrypted members, NotImplementedError: unknown compression methods).
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, RuntimeError,
    NotImplementedError, ValueError,
)  # fmt: skip


class IntakeError(Exception):
    """A submission or an export folder that cannot be read, explained in one line."""


@dataclass
class Submission:
    """One student's files for one assignment, ready to grade."""

    student: str
    files: dict[str, bytes]  # path inside the assignment folder -> content
    notes: list[str] = field(default_factory=list)  # what intake did or left out, and why
    # The grader's record of the submission time (nbgrader's timestamp.txt), never one of
    # the student's files; None: unknown (never late).
    timestamp: str | None = None


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
    """The submission in `folder` (submitted/<student>/<assignment>/).

    Raises IntakeError if the folder (or the student's folder above it) is a symbolic
    link, or holds too much; symbolic links inside it are left out, with a note, and
    never followed.
    """
    folder = Path(folder)
    for path in (folder.parent, folder):
        if path.is_symlink():
            raise IntakeError(f"{path} is a symbolic link; a submission must be a real folder")
    if not folder.is_dir():
        raise IntakeError(f"{folder} is not a folder")
    files: dict[str, bytes] = {}
    notes: list[str] = []
    total = 0
    try:
        for path in sorted(folder.rglob("*")):
            rel = PurePosixPath(path.relative_to(folder).as_posix())
            if _skipped(rel):
                continue
            if path.is_symlink():
                notes.append(f"{rel} is a symbolic link; left out")
                continue
            if not path.is_file():
                continue
            total += path.lstat().st_size
            if total > MAX_SUBMISSION_BYTES or len(files) >= MAX_FILES:
                raise IntakeError(
                    f"{folder} holds more than {MAX_SUBMISSION_BYTES // 2**20} MiB or "
                    f"{MAX_FILES} files; remove what is not part of the submission"
                )
            files[rel.as_posix()] = _read_no_follow(path)
    except OSError as exc:
        raise IntakeError(f"{folder} cannot be read: {exc}") from None
    timestamp = files.pop(TIMESTAMP_FILE, None)
    chosen, matched = match_notebooks(files, expected, assignment)
    kept = {name: data for name, data in files.items() if not _is_top_notebook(name)}
    kept.update({target: files[name] for target, name in chosen.items()})
    return Submission(student, kept, notes + matched, _timestamp_text(timestamp))


def _read_no_follow(path: Path) -> bytes:
    """A file's bytes; OSError if it was replaced by a symbolic link meanwhile."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _timestamp_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace").strip()
    return text if 0 < len(text) <= MAX_TIMESTAMP_CHARS and text.isprintable() else None


def _skipped(rel: PurePosixPath) -> bool:
    return any(part in SKIPPED_PARTS or part.startswith(".") for part in rel.parts)


def student_of(file_name: str, pattern: str = ID_PATTERN) -> str | None:
    """The student id in an exported file's name, or None if the pattern finds none."""
    match = re.search(pattern, file_name)
    if not match:
        return None
    found = match.groupdict()
    return next((found[name] for name in ID_GROUPS if found.get(name)), None)


def check_pattern(pattern: str) -> None:
    """Raise IntakeError unless `pattern` is a regex with exactly one of the groups
    `ID_GROUPS` (named `student` or `student_id`)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise IntakeError(f"--id-pattern {pattern!r} is not a regular expression: {exc}") from None
    groups = [name for name in ID_GROUPS if name in compiled.groupindex]
    if not groups:
        raise IntakeError(
            f"--id-pattern {pattern!r} has no group named 'student' or 'student_id' for the "
            f"student id, e.g. (?P<student>...) or nbgrader's (?P<student_id>...)"
        )
    if len(groups) > 1:
        raise IntakeError(
            f"--id-pattern {pattern!r} has both groups 'student' and 'student_id': keep one "
            f"for the student id"
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
        if path.name.startswith("."):
            continue
        if path.is_symlink():
            problems.append(f"{path}: a symbolic link; left out, never followed")
            continue
        if not path.is_file():
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
            if TIMESTAMP_FILE in files:
                del files[TIMESTAMP_FILE]
                problems.append(
                    f"{student}: the submission's own {TIMESTAMP_FILE} was left out; the "
                    f"submission time is when the file was collected"
                )
            chosen, _ = match_notebooks(files, expected, assignment)
            # A rename never replaces another file of the student's.
            renamed = {
                name: target
                for target, name in chosen.items()
                if target not in files or target in chosen.values()
            }
            files = {renamed.get(name, name): data for name, data in files.items()}
            files[TIMESTAMP_FILE] = _collected_at(paths).encode()
            write_folder(root / "submitted" / student / assignment, files)
        except IntakeError as exc:
            problems.append(f"{student}: {exc}; not imported")
            continue
        except OSError as exc:
            problems.append(f"{student}: the submission could not be written ({exc}); not imported")
            continue
        imported.append(student)
    if not by_student and not problems:
        raise IntakeError(f"{folder} holds no .ipynb or .zip files")
    return imported, problems


def _collected_at(paths: list[Path]) -> str:
    """When the latest of a student's exported files reached the grader's disk, as
    nbgrader's timestamp.txt holds it."""
    latest = max(path.lstat().st_mtime for path in paths)
    return datetime.fromtimestamp(latest, UTC).strftime(TIMESTAMP_FORMAT)


def _unpack(paths: list[Path]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in paths:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            raise IntakeError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES // 2**20} MiB")
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
            names = [_member_name(path.name, i.filename) for i in infos]
            keep = [(i, n) for i, n in zip(infos, names, strict=True) if not _skipped(n)]
            if len(keep) > MAX_FILES or sum(i.file_size for i, _ in keep) > MAX_SUBMISSION_BYTES:
                limit = f"{MAX_FILES} files or {MAX_SUBMISSION_BYTES // 2**20} MiB"
                raise IntakeError(f"{path.name} unpacks to more than {limit}")
            tops = {n.parts[0] for _, n in keep if len(n.parts) > 1}
            strip = len(tops) == 1 and all(len(n.parts) > 1 for _, n in keep)
            rels = [PurePosixPath(*n.parts[1:]) if strip else n for _, n in keep]
            _check_tree(path.name, rels)
            files = {}
            for (info, _), rel in zip(keep, rels, strict=True):
                files[rel.as_posix()] = archive.read(info)
    except ZIP_ERRORS as exc:
        raise IntakeError(f"{path.name} is not a readable zip file ({exc})") from None
    if not any(_is_top_notebook(name) for name in files):
        raise IntakeError(f"{path.name} holds no notebook (.ipynb) at its top level")
    return files


def _member_name(archive: str, name: str) -> PurePosixPath:
    """A zip member's name as a relative path, or IntakeError naming what is wrong."""
    shown = ascii(name) if len(name) <= 80 else ascii(name[:77] + "...")
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts:
        raise IntakeError(f"{archive} holds a path outside its folder ({shown})")
    if not rel.parts:
        raise IntakeError(f"{archive} holds a member named {shown}, which is no file name")
    if "\\" in name or not name.isprintable():
        raise IntakeError(
            f"{archive} holds a file name with a backslash or control character ({shown})"
        )
    if len(name.encode()) > MAX_PATH_BYTES or any(
        len(part.encode()) > MAX_NAME_BYTES for part in rel.parts
    ):
        raise IntakeError(
            f"{archive} holds a file name longer than {MAX_NAME_BYTES} bytes or a path "
            f"longer than {MAX_PATH_BYTES} ({shown})"
        )
    return rel


def _check_tree(archive: str, names: list[PurePosixPath]) -> None:
    """IntakeError if two members are one file, or one is a file inside another."""
    files = {name.as_posix() for name in names}
    if len(files) < len(names):
        twice = next(n for n in names if sum(m == n for m in names) > 1)
        raise IntakeError(f"{archive} holds two files named {ascii(twice.as_posix())}")
    for name in names:
        for parent in name.parents:
            if parent.as_posix() in files:
                raise IntakeError(
                    f"{archive} holds a file and a folder named {ascii(parent.as_posix())}"
                )


def write_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write `files` (path -> content) as the folder `target`, replacing what was there
    only once all of them are written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        for name, data in files.items():
            path = fresh / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{fresh.name[-8:]}")
        target.rename(old)
    fresh.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
