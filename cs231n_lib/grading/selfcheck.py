"""A student's self-check: run a notebook as the autograder will and score its test cells.

Scoring follows nbgrader's own rule (`nbgrader.utils.determine_grade`): a test cell
earns its points unless it raised an error or wrote to stderr. Hidden tests exist only
in the instructor's copy, so this predicts an upper bound of the autograded score.
The student's file is only read, never written; the notebook runs once.

Besides the points, the report tells what to fix first:

- each failure's whole message (the hints follow its first line), a few lines, never the
  traceback, and the solution cell where an error was raised when that is not the test;
- the first solution cell that raised, and the later test cells that failed with a
  NameError on a name that cell should have defined;
- released graded cells missing from the notebook (deleted), when the released cells
  are known: from the course's solutions/ (the instructor's course) or the copy of the
  release that a student edition keeps in RELEASE_COPY;
- inline answers still unanswered ("YOUR ANSWER HERE", or unchanged since the release).

`Progress` shows the run as it goes (a line per code cell) and reminds that the file as
last saved is what runs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from cs231n_lib.grading.escape import cap_text, one_line
from cs231n_lib.grading.limits import DEFAULT_LIMITS, KERNEL_STARTUP_SECONDS
from cs231n_lib.grading.notebooks import (
    NotebookError,
    grade_id,
    graded_cells,
    nbgrader_metadata,
    python_source,
    read_notebook,
)
from cs231n_lib.grading.results import SelfCheckCell, SelfCheckReport

HINT_LINES = 6  # lines of a failure message shown: the first states it, hints follow
HINT_LINE_CHARS = 300  # characters kept of each line (an array printed in a message)
UNANSWERED = "YOUR ANSWER HERE"  # nbgrader's text in a released answer cell
# A student edition's untouched copy of assignments/ (hidden from JupyterLab's file
# browser): the released cells that `cs231n check` compares a notebook with.
RELEASE_COPY = ".cs231n-release"
REFERENCE_FOLDERS = ("solutions", RELEASE_COPY)  # searched in the course folder, in order
SKIP_TAG = "skip-execution"  # nbclient's tag for cells it does not run

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)(?:, in ([\w.<>]+))?")
_NAME_ERROR = re.compile(r"name '(\w+)' is not defined")
_SCRATCH_FILE = re.compile(r" \(\d+\.py, line (\d+)\)$")  # IPython's name for a cell
_TOP_LEVEL_BINDING = re.compile(
    r"^(?:(?:async\s+)?def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)", re.MULTILINE
)


# --- what a cell defines, and how it failed ----------------------------------------------


def defined_names(source: str) -> set[str]:
    """Names the top level of a code cell binds (def, class, assignment, import, for,
    with), read without running it; a cell with a syntax error is read line by line."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return {a or b for a, b in _TOP_LEVEL_BINDING.findall(source)}
    names: set[str] = set()
    for node in tree.body:
        _bound_names(node, names)
    return names


def _bound_names(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(node.name)
        return
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        return
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        names.add(node.id)
    if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return  # their names stay inside them
    for child in ast.iter_child_nodes(node):
        _bound_names(child, names)


def _error(cell):
    """The cell's error output, or None."""
    return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)


def _error_line(error) -> str:
    """`ename: first line of evalue`, with IPython's scratch file name left out."""
    lines = error.get("evalue", "").strip().splitlines()
    first = _SCRATCH_FILE.sub(r" (line \1 of the cell)", lines[0]) if lines else ""
    if not first and error.ename == "NotImplementedError":
        first = "still to write"  # the release's `raise NotImplementedError()`
    return f"{error.ename}: {first}" if first else error.ename


def failure_lines(cell, seconds: float | None = None) -> list[str]:
    """What a failed test cell says: its error name and whole message (at most
    HINT_LINES lines of HINT_LINE_CHARS characters), else what it wrote to stderr."""
    error = _error(cell)
    if error is not None:
        if error.ename == "KeyboardInterrupt" and seconds is not None:
            if seconds >= DEFAULT_LIMITS.cell_timeout:
                return [
                    f"stopped after {DEFAULT_LIMITS.cell_timeout} s, the autograder's limit "
                    f"per cell (an endless loop? fast-mode cells take seconds)"
                ]
        lines = [_error_line(error), *error.get("evalue", "").strip().splitlines()[1:]]
        return _capped(lines, HINT_LINES)
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            lines = output.text.strip().splitlines()
            shown = _capped(lines, HINT_LINES - 1)
            return ["wrote to stderr (a test cell must stay quiet):", *shown]
    return ["no points"]


def _capped(lines: list[str], count: int) -> list[str]:
    kept = [cap_text(line, HINT_LINE_CHARS) for line in lines[:count]]
    if len(lines) > count:
        kept.append(f"... ({len(lines) - count} more line(s) in the notebook)")
    return kept


def _raised_where(error) -> tuple[int, int, str] | None:
    """(execution count, line, function) of the innermost notebook cell in the
    traceback, None when the traceback names no cell."""
    text = _ANSI.sub("", "\n".join(error.get("traceback", [])))
    frames = _FRAME.findall(text)
    if not frames:
        return None
    count, line, function = frames[-1]
    return int(count), int(line), function


# --- the released graded cells, for deleted ones ------------------------------------------


def _course_folders(path: Path, course: Path | None) -> list[Path]:
    """Folders that may be the notebook's course: `course`, else the nearest folder
    holding nbgrader_config.py above the notebook, then above the working directory."""
    if course is not None:
        return [Path(course).resolve()]
    found = []
    for start in (path.parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "nbgrader_config.py").is_file():
                if folder not in found:
                    found.append(folder)
                break
    return found


def _ids(cells) -> set[str]:
    """grade_ids of solution and graded cells (setup cells are in every notebook)."""
    ids = set()
    for cell in cells:
        meta = nbgrader_metadata(cell)
        if (meta.get("grade") or meta.get("solution")) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    return ids


def find_release(path: Path, nb, course: Path | None = None):
    """(cells, where) of the course's copy of the notebook at `path`, or None.

    The copy is looked for in the course folder's solutions/ (the nbgrader source has
    the release's graded cells) and RELEASE_COPY/: the notebook sharing the most
    solution and graded cells with `nb` (at least half of them), the same file name
    first. `nb`'s own file never counts.
    """
    import nbformat

    path = Path(path).resolve()
    mine = _ids(nb.cells)
    if not mine:
        return None
    best, best_key = None, (0, False)
    for folder in _course_folders(path, course):
        for sub in REFERENCE_FOLDERS:
            for candidate in sorted((folder / sub).glob("*/*.ipynb")):
                if candidate.resolve() == path:
                    continue
                try:
                    text = candidate.read_text(encoding="utf-8")
                    key = (len(mine & _ids(json.loads(text)["cells"])), candidate.name == path.name)
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue
                if key > best_key and 2 * key[0] >= len(mine):
                    best, best_key = (text, candidate.relative_to(folder).as_posix()), key
    if best is None:
        return None
    text, where = best
    try:
        return nbformat.reads(text, as_version=4).cells, where
    except Exception:  # nbformat's reader errors: a broken copy tells nothing
        return None


# --- running and scoring ---------------------------------------------------------------


class Progress:
    """What a person watching the check sees on `stream`: the file's last save, then a
    line per code cell (k/N, the grade_id, seconds) as it runs."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.total = 0
        self.started = 0.0
        self.running = False  # a cell's line waits for its time

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def begin(self, path: Path, total: int, fast: bool) -> None:
        self.total, self.started = total, time.monotonic()
        for line in save_reminder(path):
            self._write(one_line(line) + "\n")
        mode = "fast mode (CS231N_FAST=1)" if fast else "full mode"
        self._write(f"running {one_line(path.name)} in {mode}: {total} code cell(s)\n")

    def cell_started(self, number: int, label: str) -> None:
        self.running = True
        self._write(f"  [{number:>{len(str(self.total))}}/{self.total}] {one_line(label)} ... ")

    def cell_done(self, seconds: float, failed: bool) -> None:
        self.running = False
        self._write(f"{seconds:.1f} s{', error' if failed else ''}\n")

    def end(self) -> None:
        if self.running:  # the kernel died in this cell
            self.cell_done(0.0, True)
        self._write(f"ran in {time.monotonic() - self.started:.1f} s\n")


def save_reminder(path: Path, now: float | None = None) -> list[str]:
    """One line: the file runs as last saved, and when that was; a warning too when
    JupyterLab's checkpoint of it is newer and differs (the file may be an older copy)."""
    path = Path(path)
    now = time.time() if now is None else now
    try:
        saved = path.stat().st_mtime
    except OSError:
        return []
    lines = [f"checks {path.name} as last saved ({_when(saved, now)}): save it (Ctrl+S) first"]
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint{path.suffix}"
    try:
        newer = checkpoint.stat().st_mtime > saved + 1
        if newer and checkpoint.read_bytes() != path.read_bytes():
            lines.append(
                f"warning: JupyterLab's checkpoint .ipynb_checkpoints/{checkpoint.name} is "
                f"newer ({_when(checkpoint.stat().st_mtime, now)}) than the file and differs: "
                f"the file may not hold your latest work; save the notebook in JupyterLab"
            )
    except OSError:
        pass
    return lines


def _when(timestamp: float, now: float) -> str:
    """'14:02, 3 min ago' (with the date when not today)."""
    moment = datetime.fromtimestamp(timestamp)
    today = moment.date() == datetime.fromtimestamp(now).date()
    shown = moment.strftime("%H:%M" if today else "%Y-%m-%d %H:%M")
    age = max(0.0, now - timestamp)
    if age < 60:
        ago = "just now"
    elif age < 3600:
        ago = f"{age // 60:.0f} min ago"
    elif age < 2 * 86400:
        ago = f"{age // 3600:.0f} h ago"
    else:
        ago = f"{age // 86400:.0f} days ago"
    return f"{shown}, {ago}"


def _label(cell, index: int) -> str:
    gid = grade_id(cell)
    return gid if isinstance(gid, str) else f"cell {index + 1}"


def check_notebook(
    path: Path, fast: bool = True, course: Path | None = None, progress: Progress | None = None
) -> SelfCheckReport:
    """Execute a copy of the notebook at `path` and score each graded cell.

    `course` is the course folder whose released cells the notebook is compared with
    (default: found above the notebook or the working directory); `progress` hears of
    each code cell as it runs. Raises NotebookError when the file cannot be read or has
    no graded cells.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path).resolve()
    nb = read_notebook(path)
    if not graded_cells(nb):
        raise NotebookError(f"{path} has no autograded cells: is it a notebook of this course?")
    warnings = [
        f"test cell {gid} was edited; the autograder will restore the original"
        for gid in edited_test_cells(nb)
    ]
    release = find_release(path, nb, course)
    for cell in nb.cells:  # outputs saved by the student's session must not count
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    runnable = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.source.strip() and SKIP_TAG not in c.metadata.get("tags", [])
    ]
    seconds: dict[int, float] = {}
    started: dict[int, float] = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.monotonic()
        if progress is not None:
            progress.cell_started(runnable.index(cell_index) + 1, _label(cell, cell_index))

    def on_done(cell, cell_index, execute_reply):
        seconds[cell_index] = time.monotonic() - started[cell_index]
        if progress is not None:
            failed = execute_reply.get("content", {}).get("status") != "ok"
            progress.cell_done(seconds[cell_index], failed)

    env = dict(os.environ)
    if fast:
        env["CS231N_FAST"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb,
        timeout=DEFAULT_LIMITS.cell_timeout,  # as the autograder's
        startup_timeout=KERNEL_STARTUP_SECONDS,
        interrupt_on_timeout=True,  # the cell fails, the rest still runs
        allow_errors=True,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=on_start,
        on_cell_executed=on_done,
        skip_cells_with_tag=SKIP_TAG,
    )
    if progress is not None:
        progress.begin(path, len(runnable), fast)
    try:
        with _environment(env):
            client.execute()
    except DeadKernelError:
        warnings.append(
            "the kernel died while running the notebook (out of memory, or os._exit?); "
            "cells after that point count as failed"
        )
    if progress is not None:
        progress.end()
    return score_notebook(nb, seconds, release, warnings)


def score_notebook(nb, seconds: dict[int, float], release, warnings: list[str]):
    """The report of an executed notebook `nb`: `seconds` each cell index ran, `release`
    as `find_release` returns it (or None), and the warnings so far."""
    from nbgrader.utils import compute_checksum, determine_grade

    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    by_count = {c.get("execution_count"): i for i, c in code}  # In[k] -> cell index
    raised: list[tuple[int, str, set[str]]] = []  # cells that raised: (index, label, names)
    first_broken = None  # index of the first solution cell that raised
    report = SelfCheckReport([], warnings)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_metadata(cell)
        error = _error(cell) if cell.cell_type == "code" else None
        is_test = meta.get("grade") and not meta.get("solution") and cell.cell_type == "code"
        if error is not None and not is_test:
            label = f"{_kind(cell)} {_label(cell, index)} raised {error.ename}"
            raised.append((index, label, defined_names(cell.source)))
            if meta.get("solution") and first_broken is None:
                first_broken = index
                report.broken, report.broken_error = _label(cell, index), _error_line(error)
        if not meta.get("grade"):
            continue
        gid = _label(cell, index)
        if gid in seen:
            report.warnings.append(f"{gid} appears more than once; the autograder grades one")
            continue
        seen.add(gid)
        max_points = float(meta.get("points", 0))
        if meta.get("solution") or cell.cell_type != "code":
            unchanged = meta.get("checksum") == compute_checksum(cell)
            if UNANSWERED in cell.source:
                status, message = "unanswered", f'unanswered: it still reads "{UNANSWERED}"'
            elif unchanged:
                status, message = "unanswered", "unanswered: unchanged since the release"
            else:
                status, message = "manual", ""
            report.cells.append(SelfCheckCell(gid, 0.0, max_points, status, message, manual=True))
            continue
        if cell.get("execution_count") is None:
            report.cells.append(SelfCheckCell(gid, 0.0, max_points, "failed", "did not run"))
            continue
        points, _ = determine_grade(cell)
        if points is not None and points >= max_points:
            report.cells.append(SelfCheckCell(gid, points, max_points, "passed"))
            continue
        message = "\n".join(failure_lines(cell, seconds.get(index)))
        cause, culprit = _cause(cell, index, error, raised, nb, by_count)
        if culprit is not None and culprit == first_broken:
            report.broken_dependents.append(gid)
        report.cells.append(
            SelfCheckCell(gid, points or 0.0, max_points, "failed", message, cause=cause)
        )
    if release is not None:
        _add_missing(report, nb, *release)
    return report


def _kind(cell) -> str:
    meta = nbgrader_metadata(cell)
    return "solution cell" if meta.get("solution") else "cell"


def _cause(cell, index, error, raised, nb, by_count) -> tuple[str, int | None]:
    """Why a failed test cell failed, when that lies in another cell, and that cell's
    index: the cell that raised before defining a name the test uses, or the cell
    (not the test) the error was raised in."""
    if error is None:
        return "", None
    match = _NAME_ERROR.match(error.get("evalue", "")) if error.ename == "NameError" else None
    if match:
        name = match.group(1)
        for culprit, label, names in raised:
            if name in names and culprit < index:
                return f"{label}, so `{name}` was never defined: fix that cell first", culprit
    where = _raised_where(error)
    if where is None:
        return "", None
    count, line, function = where
    source = by_count.get(count)
    if source is None or source == index:
        return "", None
    inside = f", in {function}" if function and function != "<module>" else ""
    label = f"{_kind(nb.cells[source])} {_label(nb.cells[source], source)}"
    return f"raised in {label} (line {line}{inside})", None


def _add_missing(report: SelfCheckReport, nb, released_cells, where: str) -> None:
    """Released graded cells that `nb` lacks become failed cells at their released
    place; a released solution cell it lacks becomes a warning."""
    present = {grade_id(c) for c in nb.cells}
    order = [grade_id(c) for c in released_cells if isinstance(grade_id(c), str)]
    shown = where if where.startswith(RELEASE_COPY) else "a fresh copy of the release"
    for cell in released_cells:
        meta = nbgrader_metadata(cell)
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or gid in present:
            continue
        if not meta.get("grade"):
            if meta.get("solution"):
                report.warnings.append(
                    f"solution cell {gid} of the release is missing (deleted?): tests that use "
                    f"what it defines fail; take it from {shown}"
                )
            continue
        manual = bool(meta.get("solution")) or cell.get("cell_type") != "code"
        if manual:
            message = f"deleted: this answer cell of the release scores 0\ntake it from {shown}"
        else:
            message = (
                "deleted: this test cell of the release scores 0 here\n"
                "the autograder puts it back and runs it; Edit > Undo Delete Cells, or take "
                f"it from {shown}"
            )
        missing = SelfCheckCell(
            gid, 0.0, float(meta.get("points", 0)), "missing", message, manual=manual
        )
        before = set(order[: order.index(gid)])
        at = max((i + 1 for i, c in enumerate(report.cells) if c.grade_id in before), default=0)
        report.cells.insert(at, missing)


def edited_test_cells(nb) -> list[str]:
    """grade_ids of locked test cells whose source differs from the released one."""
    from nbgrader.utils import compute_checksum

    edited = []
    for cell in graded_cells(nb):
        meta = cell.metadata.nbgrader
        if meta.get("solution") or "checksum" not in meta:
            continue
        if compute_checksum(cell) != meta["checksum"]:
            edited.append(meta.get("grade_id", "?"))
    return edited


class _environment:
    """Temporarily replace os.environ (the kernel inherits it)."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


# --- the report ------------------------------------------------------------------------

_MARKS = {"passed": "PASS", "failed": "FAIL", "missing": "FAIL"}
_MORE = " " * 9 + "| "  # a message's further lines: never mistaken for a report line


def _shown(text: str) -> list[str]:
    """Student-written text as printable lines (control characters escaped)."""
    return [one_line(line) for line in text.split("\n")] if text else []


def format_report(result: SelfCheckReport, name: str) -> str:
    """The self-check report a student reads: the first broken solution cell, one line
    per graded cell with the whole failure message below it, then the total. Everything
    the notebook wrote is escaped (see `escape.one_line`)."""
    lines = [f"Checking {one_line(name)} (visible tests; hidden tests run when it is graded)"]
    lines += [f"warning: {one_line(w)}" for w in result.warnings]
    if result.broken:
        lines.append(
            f"First broken solution cell: {one_line(result.broken)} raised "
            f"{one_line(result.broken_error)}"
        )
        if result.broken_dependents:
            lines.append(
                f"  fix it first: {', '.join(one_line(d) for d in result.broken_dependents)} "
                f"failed with NameError on names it defines"
            )
    width = max((len(one_line(c.grade_id)) for c in result.cells), default=10)
    for cell in result.cells:
        gid = f"{one_line(cell.grade_id):<{width}}"
        message = _shown(cell.message) + [one_line(cell.cause)] * bool(cell.cause)
        if cell.manual:
            mark = {"manual": "MANUAL", "unanswered": "TODO"}.get(cell.status, "FAIL")
            line = f"  {mark:<7}{gid}  {cell.max_points:g} pt, graded by hand"
            line += f": {message[0]}" if message else ""
        else:
            line = f"  {_MARKS[cell.status]:<7}{gid}  {cell.points:g}/{cell.max_points:g}"
            line += f"  {message[0]}" if message else ""
        lines.append(line)
        lines += [_MORE + more for more in message[1:]]
    summary = f", {len(result.failed)} cell(s) failed" if result.failed else ", all passed"
    if result.unanswered:
        points = sum(c.max_points for c in result.unanswered)
        summary += f"; {len(result.unanswered)} answer(s) to write ({points:g} pt graded by hand)"
    lines.append(f"Total: {result.points:g}/{result.max_points:g} autograded points{summary}")
    return "\n".join(lines)
