"""The student edition: what a student downloads, written by `cs231n release --student-edition`.

An edition folder holds the release notebooks (assignments/, in syllabus order, up to an
assignment when a class releases them one at a time), the student-facing package
(cs231n_lib with only the grading modules that `cs231n lab`, `data` and `check` import),
data READMEs, a pyproject.toml with the course's runtime dependencies, a nbgrader_config.py
(the folder is a course for `cs231n lab` and nbgrader's Validate button), a jupyter/
config folder that turns nbgrader's instructor UI off, a README and a Makefile.

It never holds solutions/, tests/, hidden tests, buggy submissions or a gradebook. The
edition keeps the package's implementations: integrity comes from the grader, which
withholds an exercise's implementation while that notebook is graded.

Writing into an earlier edition (it has MARKER) adds new assignments and refreshes the
course's own files; a notebook already there is the student's and is never replaced.
"""

from __future__ import annotations

import ast
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cs231n_lib.grading.selfcheck import RELEASE_COPY

MARKER = ".cs231n-edition.json"
MARKER_KIND = "cs231n student edition"
TEMPLATES = Path(__file__).resolve().parent / "edition_files"
PACKAGE = Path(__file__).resolve().parents[1]
GRADING = "cs231n_lib.grading"
# `cs231n` commands a student runs; the grading modules their handlers import ship.
STUDENT_COMMANDS = ("lab", "data", "check")
# Template file -> its path in the edition (the rest keep their own relative path).
RENAMES = {"gitignore": ".gitignore"}
# Templates a student's JupyterLab rewrites (its settings): written only where absent.
WRITE_ONCE = ("jupyter/lab/",)
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


class EditionError(Exception):
    """A student edition that cannot be written, explained in one line."""


@dataclass
class EditionSummary:
    """What `write_student_edition` did: the folder, the assignments it holds now, the
    files written, and the student's notebooks kept although the release differs."""

    destination: Path
    assignments: list[str]
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    updated: bool = False  # True when `destination` held an earlier edition


def assignments_upto(root: Path, upto: str | None) -> list[str]:
    """The course's assignment names in syllabus order (NN_ prefix), up to and including
    `upto` when given. Raises EditionError for an unknown `upto` or an unreleased one."""
    source = root / "solutions"
    if not source.is_dir():
        raise EditionError(
            f"{root} has no solutions/: build the student edition in the instructor's course"
        )
    names = sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if upto is not None:
        if upto not in names:
            raise EditionError(f"--upto {upto!r} is not an assignment; known: {', '.join(names)}")
        names = names[: names.index(upto) + 1]
    missing = [n for n in names if not any((root / "assignments" / n).glob("*.ipynb"))]
    if missing:
        raise EditionError(
            f"assignments/ has no release of {', '.join(missing)}: run `cs231n release` first"
        )
    return names


def _imported_grading_modules(tree: ast.AST) -> set[str]:
    """Names of cs231n_lib.grading modules (e.g. "selfcheck") an AST imports anywhere."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == GRADING:
                found |= {alias.name for alias in node.names}
            elif node.module.startswith(GRADING + "."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(GRADING + "."):
                    found.add(alias.name.split(".")[2])
    return found


def _cli_grading_imports(cli_source: str) -> set[str]:
    """Grading modules cli.py imports, leaving out the handlers of instructor commands
    (functions named cmd_<command> for a command not in STUDENT_COMMANDS)."""
    tree = ast.parse(cli_source)
    found = set()
    for node in tree.body:
        is_handler = isinstance(node, ast.FunctionDef) and node.name.startswith("cmd_")
        if is_handler and node.name.removeprefix("cmd_") not in STUDENT_COMMANDS:
            continue
        found |= _imported_grading_modules(node)
    return found


def student_grading_modules(package: Path = PACKAGE) -> list[str]:
    """File names in grading/ that the edition's `cs231n` needs: __init__.py and the
    closure of what cli.py's student commands (and its parser) import, e.g.
    ["__init__.py", "escape.py", ..., "selfcheck.py"]."""
    grading = package / "grading"
    todo = _cli_grading_imports((package / "cli.py").read_text())
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        path = grading / f"{name}.py"
        if name in needed or not path.is_file():
            continue
        needed.add(name)
        todo |= _imported_grading_modules(ast.parse(path.read_text()))
    return sorted(["__init__.py", *(f"{name}.py" for name in needed)])


def package_files(package: Path = PACKAGE) -> list[Path]:
    """Relative paths (under cs231n_lib/) of the student-facing package: every .py file
    outside grading/ and the grading modules of `student_grading_modules`."""
    grading_keep = set(student_grading_modules(package))
    files = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if SKIPPED_PARTS & set(relative.parts):
            continue
        if relative.parts[0] == "grading" and (
            len(relative.parts) != 2 or relative.name not in grading_keep
        ):
            continue
        files.append(relative)
    return files


def runtime_dependencies(package: Path = PACKAGE) -> dict:
    """The course's [project] table (name, version, description, requires-python,
    dependencies, scripts) from the pyproject.toml beside the package, without extras."""
    pyproject = package.parent / "pyproject.toml"
    if not pyproject.is_file():
        raise EditionError(
            f"{pyproject} not found: build the student edition from the course's checkout"
        )
    project = tomllib.loads(pyproject.read_text())["project"]
    return {key: project[key] for key in ("name", "version", "requires-python", "dependencies")}


def edition_pyproject(project: dict) -> str:
    """pyproject.toml text of the edition: the package, `cs231n`, the runtime pins."""
    dependencies = "".join(f"    {json.dumps(dep)},\n" for dep in project["dependencies"])
    return (
        "# The student edition of the course: the support package cs231n_lib and the\n"
        "# course's pinned runtime dependencies (torch==... is the CPU build; see Makefile).\n"
        "[build-system]\n"
        'requires = ["setuptools>=68"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f"name = {json.dumps(project['name'])}\n"
        f"version = {json.dumps(project['version'])}\n"
        'description = "Student edition of an offline-first Jupyter course on deep learning '
        'for computer vision"\n'
        f"requires-python = {json.dumps(project['requires-python'])}\n"
        f"dependencies = [\n{dependencies}]\n\n"
        "[project.scripts]\n"
        'cs231n = "cs231n_lib.cli:main"\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["cs231n_lib*"]\n'
    )


def read_marker(destination: Path) -> dict | None:
    """The marker of an earlier edition in `destination`, or None if it has none.
    Raises EditionError when the marker is there but is not an edition's."""
    path = destination / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EditionError(f"{path} is not readable as an edition marker: {exc}") from None
    if not isinstance(marker, dict) or marker.get("kind") != MARKER_KIND:
        raise EditionError(f"{path} is not a cs231n student edition marker")
    return marker


def check_destination(root: Path, destination: Path) -> dict | None:
    """Refuse a destination that is not empty, unless it holds an earlier edition (whose
    marker is returned), or that lies in the course itself. None for a new folder."""
    destination = destination.resolve()
    if destination.exists() and not destination.is_dir():
        raise EditionError(f"{destination} is a file: pass a new or empty folder")
    root = root.resolve()
    inside = [root / "solutions", root / "assignments"]
    if destination == root or any(destination.is_relative_to(folder) for folder in inside):
        raise EditionError(
            f"{destination} is the course or inside its solutions/ or assignments/: "
            f"write the edition to a folder of its own"
        )
    marker = read_marker(destination) if destination.is_dir() else None
    if marker is None and destination.is_dir() and any(destination.iterdir()):
        raise EditionError(
            f"{destination} is not empty and holds no earlier edition ({MARKER}): "
            f"pass a new or empty folder (nothing in it is deleted or replaced)"
        )
    return marker


def _write(path: Path, data: bytes, destination: Path, summary: EditionSummary) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
        summary.written.append(path.relative_to(destination).as_posix())


def _template_files() -> list[Path]:
    """Relative paths of the template files in edition_files/."""
    return sorted(
        p.relative_to(TEMPLATES)
        for p in TEMPLATES.rglob("*")
        if p.is_file() and not SKIPPED_PARTS & set(p.parts)
    )


def _copy_assignments(root: Path, names: list[str], destination: Path, summary) -> None:
    """Copy each released assignment's files; a file the student already has is kept."""
    for name in names:
        released = root / "assignments" / name
        for path in sorted(released.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or SKIPPED_PARTS & set(relative.parts):
                continue
            if path.suffix == ".ipynb":
                # The course's copy, always refreshed: `cs231n check` compares the
                # student's notebook with it to notice deleted test cells.
                copy = destination / RELEASE_COPY / name / path.relative_to(released)
                _write(copy, path.read_bytes(), destination, summary)
            target = destination / relative
            if target.exists():
                if not target.is_file() or target.read_bytes() != path.read_bytes():
                    summary.kept.append(relative.as_posix())
                continue
            _write(target, path.read_bytes(), destination, summary)


def write_student_edition(
    root: Path, destination: Path, upto: str | None = None, package: Path = PACKAGE
) -> EditionSummary:
    """Write the student edition of the course at `root` into `destination`.

    Inputs:
    - root: the instructor's course (solutions/ and the committed assignments/).
    - destination: a new or empty folder, or one that holds an earlier edition.
    - upto: the last assignment to include (syllabus order), or None for all.
    - package: the cs231n_lib folder to ship (default: this package).
    Returns an EditionSummary. Raises EditionError (nothing written) for a bad request.
    """
    root, destination = Path(root).resolve(), Path(destination).resolve()
    names = assignments_upto(root, upto)
    marker = check_destination(root, destination)
    project = runtime_dependencies(package)
    earlier = sorted(marker.get("assignments", [])) if marker else []
    summary = EditionSummary(destination, sorted(set(names) | set(earlier)), updated=bool(marker))
    destination.mkdir(parents=True, exist_ok=True)

    _copy_assignments(root, names, destination, summary)
    for relative in package_files(package):
        data = (package / relative).read_bytes()
        _write(destination / "cs231n_lib" / relative, data, destination, summary)
    for readme in sorted((root / "data").glob("**/README*")):
        _write(destination / readme.relative_to(root), readme.read_bytes(), destination, summary)
    for relative in _template_files():
        target = destination / RENAMES.get(relative.as_posix(), relative.as_posix())
        if relative.as_posix().startswith(WRITE_ONCE) and target.exists():
            continue
        _write(target, (TEMPLATES / relative).read_bytes(), destination, summary)
    pyproject = edition_pyproject(project).encode()
    _write(destination / "pyproject.toml", pyproject, destination, summary)
    marker_text = json.dumps(
        {"kind": MARKER_KIND, "version": project["version"], "assignments": summary.assignments},
        indent=1,
    )
    _write(destination / MARKER, (marker_text + "\n").encode(), destination, summary)
    return summary


def format_summary(summary: EditionSummary) -> str:
    """What an instructor reads after `cs231n release --student-edition`."""
    verb = "updated" if summary.updated else "wrote"
    lines = [
        f"{verb} the student edition in {summary.destination}: "
        f"{', '.join(summary.assignments)} ({len(summary.written)} file(s) written)"
    ]
    for kept in summary.kept:
        lines.append(f"  kept the student's {kept} (the release differs; not replaced)")
    lines.append(
        "students download this folder and run `make setup`, then `make lab` (see its README)"
    )
    return "\n".join(lines)
