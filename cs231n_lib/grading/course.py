"""The nbgrader pipeline behind `cs231n release` and `cs231n grade`.

The repository root is the nbgrader course directory: `solutions/` is the source,
`assignments/` the release. Everything here goes through nbgrader's Python API
(`NbGraderAPI`, `Gradebook`), so an instructor who knows nbgrader finds its usual
gradebook, `autograded/` and `feedback/` folders.
"""

from __future__ import annotations

import filecmp
import functools
import os
import tempfile
import warnings
from pathlib import Path

from cs231n_lib.grading.escape import neutralize_csv_file
from cs231n_lib.grading.results import CellScore


class CourseError(Exception):
    """A problem with the course or a request to it, explained in one line."""


def course_problem(folder: Path) -> str | None:
    """What keeps `folder` from being a course directory, in words, or None if it is one.

    A course holds nbgrader_config.py and solutions/ (the instructor's course) or
    assignments/ (a student edition)."""
    folder = Path(folder)
    if not folder.is_dir():
        return "no such folder"
    missing = []
    if not (folder / "nbgrader_config.py").is_file():
        missing.append("nbgrader_config.py")
    if not (folder / "solutions").is_dir() and not (folder / "assignments").is_dir():
        missing.append("solutions/ or assignments/")
    return f"it has no {' and no '.join(missing)}" if missing else None


def check_course(folder: Path) -> Path:
    """`folder`, resolved, if it is a course directory (`course_problem`); else raise
    CourseError naming the folder and what it lacks."""
    problem = course_problem(folder)
    if problem is not None:
        raise CourseError(
            f"{folder} is not a course directory: {problem} (a course holds "
            f"nbgrader_config.py beside solutions/ or assignments/)"
        )
    return Path(folder).resolve()


def find_course_root(start: Path | None = None) -> Path:
    """The course directory: the nearest folder at or above `start` (default: the current
    directory) that is a course (`course_problem`). Never the checkout the package was
    installed from unless `start` is inside it: a command must not work on another course."""
    start = Path.cwd() if start is None else Path(start)
    for folder in [start.resolve(), *start.resolve().parents]:
        if course_problem(folder) is None:
            return folder
    raise CourseError(
        f"no course directory at or above {start} (nbgrader_config.py beside solutions/ "
        f"or assignments/): cd into the course folder or pass --course DIR"
    )


def require_solutions(root: Path, command: str) -> None:
    """Raise CourseError unless the course at `root` holds solutions/: a student edition
    has only assignments/, and `command` (release, grade, ...) is the instructor's."""
    if not (root / "solutions").is_dir():
        raise CourseError(
            f"{root} has no solutions/ (a student edition?): `cs231n {command}` runs in "
            f"the instructor's course; pass --course with the folder that holds solutions/"
        )


def list_assignments(root: Path) -> list[str]:
    """Names of the assignment folders in solutions/ that hold at least one notebook."""
    source = root / "solutions"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_assignment(root: Path, assignment: str) -> None:
    """Raise CourseError naming the known assignments if `assignment` is not one."""
    known = list_assignments(root)
    if assignment not in known:
        raise CourseError(f"unknown assignment {assignment!r}; known: {', '.join(known) or 'none'}")


def quiet_warnings() -> None:
    """Hide the warnings of nbgrader's gradebook code (SQLAlchemy's "not in session") and
    nbformat's validator: they are theirs to fix, and in a terminal or a worker's stderr
    they only bury the grading summary. The one definition of these filters, for the
    command, its workers and the tests."""
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", module="nbformat")
    warnings.filterwarnings("ignore", message=".*not in session.*")


@functools.cache
def use_in_process_alembic_head() -> None:
    """Answer nbgrader's question about its database schema in-process (once per process).

    NOTE: nbgrader asks `alembic heads` (a subprocess, found on PATH, that takes 5-20 s)
    each time it creates a gradebook. The answer is fixed for an installed nbgrader and
    alembic's own API gives it in a fraction of a second.
    """
    import nbgrader.api
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    def head() -> str:
        config = Config()
        config.set_main_option(
            "script_location", os.path.join(os.path.dirname(nbgrader.api.__file__), "alembic")
        )
        return ScriptDirectory.from_config(config).get_current_head()

    nbgrader.api.get_alembic_version = functools.lru_cache(maxsize=1)(head)


def make_api(root: Path, **course_directory):
    """An `NbGraderAPI` for the course at `root`, configured by its nbgrader_config.py.

    Keyword arguments override `CourseDirectory` settings, e.g. `db_url` or an absolute
    `release_directory`.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    use_in_process_alembic_head()
    config = Config()
    config_file = root / "nbgrader_config.py"
    if config_file.is_file():
        config.merge(PyFileConfigLoader(config_file.name, path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    for key, value in course_directory.items():
        setattr(config.CourseDirectory, key, value)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _fail(action: str, result: dict) -> CourseError:
    detail = (result.get("error") or result.get("log") or "").strip().splitlines()
    last = detail[-1] if detail else "no details"
    return CourseError(f"nbgrader {action} failed: {last}")


def generate_release(root: Path, assignment: str, destination: Path, db_url: str) -> Path:
    """Run nbgrader generate_assignment for `assignment` into `destination`/assignment.

    The gradebook at `db_url` learns the assignment's graded cells. Returns the folder
    with the release notebooks.
    """
    check_assignment(root, assignment)
    api = make_api(root, release_directory=str(destination), db_url=db_url)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise _fail(f"generate_assignment {assignment}", result)
    return destination / assignment


def release(root: Path, assignment: str) -> Path:
    """Regenerate assignments/<assignment> from solutions/ and update the gradebook.

    The release is generated in a scratch folder and moved into place only when complete.
    """
    target = root / "assignments" / assignment
    target.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".release-") as scratch:
        built = generate_release(root, assignment, Path(scratch), default_db_url(root))
        if target.exists():
            old = Path(scratch) / "old"
            target.rename(old)
        built.rename(target)
    return target


def release_differences(root: Path, assignment: str) -> list[str]:
    """Paths (relative to the root) in assignments/<assignment> that differ from what
    nbgrader generates from solutions/ now: changed, missing or extra files."""
    committed = root / "assignments" / assignment
    with tempfile.TemporaryDirectory(prefix="cs231n-release-check-") as scratch:
        scratch = Path(scratch)
        fresh = generate_release(root, assignment, scratch / "release", _sqlite(scratch / "gb.db"))
        return _tree_differences(fresh, committed, root)


def _tree_differences(fresh: Path, committed: Path, root: Path) -> list[str]:
    def files(folder: Path) -> set[Path]:
        if not folder.is_dir():
            return set()
        return {
            p.relative_to(folder)
            for p in folder.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts
        }

    fresh_files, committed_files = files(fresh), files(committed)
    differing = []
    for rel in sorted(fresh_files | committed_files):
        shown = str((committed / rel).relative_to(root))
        if rel not in committed_files:
            differing.append(f"{shown} (missing)")
        elif rel not in fresh_files:
            differing.append(f"{shown} (not made from solutions/)")
        elif not filecmp.cmp(fresh / rel, committed / rel, shallow=False):
            differing.append(f"{shown} (differs)")
    return differing


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def default_db_url(root: Path) -> str:
    """The course's gradebook: gradebook.db at the course root."""
    return _sqlite(root / "gradebook.db")


def submitted_students(root: Path, assignment: str) -> list[str]:
    """Students with a folder submitted/<student>/<assignment>/."""
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


def read_scores(db_url: str, assignment: str, student: str) -> list[CellScore]:
    """Scores of every graded cell of a student's submission, in notebook order."""
    from nbgrader.api import Gradebook

    cells = []
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                manual = grade.cell.cell_type == "markdown" or grade.needs_manual_grade
                cells.append(
                    CellScore(notebook.name, grade.name, grade.score, grade.max_score, manual)
                )
    return cells


PENDING_COLUMN = "points_to_grade_by_hand"  # grades.csv: points no grade is given for yet


def export_csv(db_url: str, destination: Path) -> Path:
    """Write nbgrader's CSV export of the gradebook atomically to `destination`, sorted by
    assignment and student id, with a last column `PENDING_COLUMN` (the points of cells
    that still await a grade by hand, not in `score` yet) and no text cell a spreadsheet
    would read as a formula (a student id can be any folder name)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    with Gradebook(db_url) as gradebook:
        CsvExportPlugin(to=str(partial)).export(gradebook)
        pending = pending_manual_points(gradebook)
    _sort_and_add_pending(partial, pending)
    neutralize_csv_file(partial)
    partial.replace(destination)
    return destination


def pending_manual_points(gradebook) -> dict[tuple[str, str], float]:
    """(assignment, student id) -> points of that submission's cells with neither an
    automatic nor a manual score yet (they wait for the instructor)."""
    pending = {}
    for assignment in gradebook.assignments:
        for submission in assignment.submissions:
            pending[assignment.name, submission.student.id] = sum(
                grade.max_score
                for notebook in submission.notebooks
                for grade in notebook.grades
                if grade.auto_score is None and grade.manual_score is None
            )
    return pending


def _sort_and_add_pending(path: Path, pending: dict[tuple[str, str], float]) -> None:
    """Rewrite nbgrader's grades.csv at `path` sorted by (assignment, student_id), with
    the column `PENDING_COLUMN` last."""
    import csv

    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    assignment, student = header.index("assignment"), header.index("student_id")
    rows.sort(key=lambda row: (row[assignment], row[student]))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*header, PENDING_COLUMN])
        for row in rows:
            points = pending.get((row[assignment], row[student]), 0.0)
            writer.writerow([*row, str(float(points))])
