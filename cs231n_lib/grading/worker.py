"""Grading one submission in a scratch course of its own: the task that a process pool
(`--jobs N`) or a Dask worker (`--scheduler ADDRESS`) runs.

Everything goes in and out as plain data (bytes, not paths), so a worker on another
machine needs no shared disk. In a scratch folder the task builds a tiny nbgrader course:
a copy of the assignment's gradebook (no students), the student's files in
submitted/, and runs nbgrader's own autograde and generate_feedback on it, with
`GuardedExecute` running the kernel in the sandbox. What comes back is what the
instructor's course needs: the autograded and feedback files, and the gradebook values
that nbgrader computed (auto scores, needs-manual-grade flags, auto comments, late
penalties), which the single writer in the parent copies into the course gradebook.

A submission that breaks (its kernel dies, loops, or its notebook is not valid JSON)
is still graded: 0 for what did not run, and a note that says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cs231n_lib.grading import sandbox, trusted
from cs231n_lib.grading.course import quiet_warnings
from cs231n_lib.grading.escape import cap_text
from cs231n_lib.grading.feedback import (
    SIDECAR,
    FeedbackExporter,
    feedback_preprocessors,
    missing_notebook_html,
    offline_config,
)
from cs231n_lib.grading.intake import Submission
from cs231n_lib.grading.limits import DEFAULT_SANDBOX_MODE, Limits
from cs231n_lib.grading.notebooks import NotebookError, grade_id, nbgrader_metadata, read_notebook
from cs231n_lib.grading.results import CellResult, SubmissionResult
from cs231n_lib.grading.sanitize import exporter_config, sanitize_files


@dataclass
class AssignmentBundle:
    """What every task of one grading run shares (sent once per worker on Dask)."""

    assignment: str
    course_id: str
    gradebook: bytes  # SQLite gradebook that knows the assignment and no student
    release: dict[str, bytes]  # released notebooks: file name -> ipynb
    source_files: dict[str, bytes]  # non-notebook files of solutions/<assignment>/
    limits: Limits
    sandbox_mode: str = DEFAULT_SANDBOX_MODE
    kernel_arguments: list[str] = field(default_factory=list)  # Execute.extra_arguments
    # notebook file name -> (names of its exercises, its label): what the student's kernel
    # gets no package version of while that notebook is graded (withhold.py).
    withheld: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    # The grading machine's sandbox, found once by the command for its local workers;
    # None where tasks run elsewhere (Dask): each worker process then probes its own.
    sandbox_info: sandbox.SandboxInfo | None = None


def grade_submission(
    submission: Submission,
    bundle: AssignmentBundle,
    manual_grades: dict[str, dict] | None = None,
) -> SubmissionResult:
    """Autograde one submission in a scratch course and return everything it produced.

    `manual_grades` ("notebook/grade_id" -> {"manual_score", "extra_credit",
    "manual_comment"}) are the instructor's grades so far, so that feedback shows them.
    """
    start = time.monotonic()
    quiet_warnings()
    result = SubmissionResult(bundle.assignment, submission.student, False, host=platform.node())
    info = bundle.sandbox_info
    if info is None:
        try:
            info = sandbox.detect_sandbox(bundle.sandbox_mode)
        except RuntimeError as exc:
            result.error = str(exc)
            return result
    result.sandboxed, result.sandbox_reason = info.active, info.reason
    scratch = Path(tempfile.mkdtemp(prefix="cs231n-"))  # short: Unix socket paths are short
    try:
        _grade_in(scratch, submission, bundle, manual_grades or {}, info, result)
    except Exception as exc:  # noqa: BLE001  the grader's own failure, reported per student
        result.success = False
        result.error = f"internal error while grading: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        result.seconds = time.monotonic() - start
    return result


def _grade_in(scratch, submission, bundle, manual_grades, info, result) -> None:
    assignment, student = bundle.assignment, submission.student
    course = scratch / "c"
    db_path = scratch / "gradebook.db"
    db_url = f"sqlite:///{db_path}"
    # 1. A scratch course: the assignment's gradebook (no students) and the submission.
    db_path.write_bytes(bundle.gradebook)
    _write_files(course / "source" / assignment, bundle.source_files)
    submitted = course / "submitted" / student / assignment
    _write_files(submitted, submission.files)
    notes = list(submission.notes)
    _write_timestamp(submitted, submission.timestamp, notes)
    unrunnable, originals = _prepare_notebooks(submitted, bundle.release, notes)

    # 2. nbgrader's autograde, with the kernel in the sandbox. The kernel's folder holds
    # the student's files and the assignment's, as nbgrader lays them out, but not the
    # notebook with the hidden tests restored that nbgrader keeps in autograded/.
    work = scratch / "w"
    shutil.copytree(submitted, work)
    _write_files(work, bundle.source_files)
    api = _api(course, db_url, bundle, work, scratch / "k", info)
    runnable = len(unrunnable) < len(bundle.release)
    if runnable:
        trusted.RECORDS.clear()
        trusted.FLAGS.clear()
        outcome = api.autograde(assignment, student, force=True, create=True)
        if not outcome["success"]:
            result.error = _failure(outcome, scratch / "k" / "kernel.log")
            return
        _apply_trusted_record(db_url, assignment, student, bundle.release, unrunnable)
        for flags in trusted.FLAGS.values():  # dynamic lookups the checks could not follow
            notes += [f"for the instructor to look at: {flag}" for flag in flags]
    _zero_unrunnable(db_url, assignment, student, [Path(n).stem for n in unrunnable])
    _apply_manual_grades(db_url, assignment, student, manual_grades)

    # 3. What happened to each graded cell, kept beside the autograded notebooks.
    autograded = course / "autograded" / student / assignment
    autograded.mkdir(parents=True, exist_ok=True)
    cells = _read_cells(db_url, assignment, student, bundle.release, autograded)
    notes += _kernel_deaths(autograded, bundle.release)
    for name, data in originals.items():
        (autograded / name).write_bytes(data)
    # What the formgrader renders and feedback is made from: no live student content.
    notes += sanitize_files(autograded, bundle.release)
    _record(result, db_url, assignment, student, cells, notes)
    sidecar = {"student": student, "assignment": assignment, "sandboxed": info.active}
    sidecar |= {"notes": notes, "cells": [_cell_json(c) for c in cells]}
    (autograded / SIDECAR).write_text(json.dumps(sidecar, indent=1))

    # 4. Feedback: nbgrader's, without hidden tests; a short page for unrun notebooks.
    if runnable:
        outcome = api.generate_feedback(assignment, student, force=True)
        if not outcome["success"]:
            result.error = _failure(outcome, None)
            return
    feedback = course / "feedback" / student / assignment
    feedback.mkdir(parents=True, exist_ok=True)
    for name in unrunnable:
        mine = [_cell_json(c) for c in cells if c.notebook == Path(name).stem]
        page = missing_notebook_html(name, mine, notes)
        (feedback / f"{Path(name).stem}.html").write_text(page)
    result.autograded = _read_files(autograded)
    result.feedback = _read_files(feedback)
    result.success = True


def _write_timestamp(submitted: Path, timestamp: str | None, notes: list[str]) -> None:
    """nbgrader's timestamp.txt from the grader's record only (the student's files never
    hold one: intake takes it out); one nbgrader cannot read is dropped, with a note."""
    from nbgrader.utils import parse_utc

    (submitted / "timestamp.txt").unlink(missing_ok=True)
    if timestamp is None:
        return
    try:
        parse_utc(timestamp)
    except (ValueError, OverflowError, TypeError):
        notes.append(f"the recorded submission time {timestamp!r} is not a time; not late")
        return
    (submitted / "timestamp.txt").write_text(timestamp)


def _prepare_notebooks(submitted: Path, release: dict[str, bytes], notes: list[str]):
    """Check each expected notebook: missing or unreadable ones are taken out (they score
    0, and nbgrader must not choke on them); deleted locked cells are put back.

    Returns {notebook: why it cannot run} and {notebook: original bytes of unreadable ones}.
    """
    import nbformat

    unrunnable: dict[str, str] = {}
    originals: dict[str, bytes] = {}
    for name, data in release.items():
        path = submitted / name
        if not path.is_file():
            unrunnable[name] = f"no {name} in the submission"
            continue
        nb, problem = _read(path)
        if nb is None:
            unrunnable[name] = problem
            originals[name] = path.read_bytes()
            path.unlink()
            continue
        released = nbformat.reads(data, as_version=4)
        notes += _released_metadata(nb, released, name)
        notes += _restore_locked_cells(nb, released, name)
        nbformat.write(nb, path)
    notes += [f"{reason}: its cells score 0" for reason in unrunnable.values()]
    return unrunnable, originals


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"file name {name!r} leaves its folder")
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _read_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _read(path: Path):
    """(notebook, "") or (None, why it cannot be read)."""
    try:
        return read_notebook(path), ""
    except NotebookError as exc:
        # The path is the scratch copy's; the student knows the file by its name.
        return None, str(exc).replace(str(path), path.name)


def _released_metadata(nb, released, name: str) -> list[str]:
    """Give every graded cell the release's nbgrader metadata and cell type, whatever the
    student edited (points, grade flags, grade ids, cell types, copies of a cell); returns
    a note for each change. Of several cells with one grade id the one most like the
    released cell keeps it; the others, and cells with grade ids the release does not
    have, run as ordinary cells."""
    import copy

    by_id = {grade_id(c): c for c in released.cells if grade_id(c)}
    claimants: dict[str, list[int]] = {}
    notes = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(gid, str) and gid in by_id:
            claimants.setdefault(gid, []).append(index)
        elif meta is not None:
            del cell.metadata["nbgrader"]
            shown = f"grade id {gid!r}" if gid is not None else "nbgrader metadata"
            notes.append(
                f"cell {index + 1} of {name} has {shown} the release does not have; "
                f"it runs as an ordinary cell"
            )
    for gid, indices in claimants.items():
        original = by_id[gid]

        def likeness(i, original=original):
            cell = nb.cells[i]
            return (
                cell.source.strip() == original.source.strip(),
                cell.cell_type == original.cell_type,
            )

        keep = max(indices, key=likeness)  # the first of the most alike
        for i in indices:
            if i != keep:
                del nb.cells[i].metadata["nbgrader"]
        if len(indices) > 1:
            notes.append(
                f"{gid} appears {len(indices)} times in {name}; cell {keep + 1} is graded, "
                f"the other copies run as ordinary cells"
            )
        cell = nb.cells[keep]
        if cell.metadata["nbgrader"] != original.metadata["nbgrader"]:
            notes.append(f"the nbgrader metadata of {gid} in {name} was edited; graded as released")
        cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
        if cell.cell_type != original.cell_type:
            notes.append(
                f"{gid} in {name} was made a {cell.cell_type} cell; graded as released, a "
                f"{original.cell_type} cell"
            )
            _set_cell_type(cell, original.cell_type)
    return notes


def _set_cell_type(cell, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _restore_locked_cells(nb, released, name: str) -> list[str]:
    """Put back locked cells (tests, setup) the student deleted, where they were released;
    nbgrader then restores their full source, hidden tests included, as it does for
    edited ones. Returns notes for deleted and edited test cells."""
    import copy

    released_tests = {
        grade_id(c): c.source.strip()
        for c in released.cells
        if nbgrader_metadata(c).get("grade") and not nbgrader_metadata(c).get("solution")
    }
    edited = [
        grade_id(c)
        for c in nb.cells
        if grade_id(c) in released_tests and c.source.strip() != released_tests[grade_id(c)]
    ]
    notes = [
        f"test cell {gid} of {name} was edited; the original was run instead" for gid in edited
    ]
    present = [grade_id(c) for c in nb.cells]
    for index, cell in enumerate(released.cells):
        meta = nbgrader_metadata(cell)
        locked = meta.get("locked") or (meta.get("grade") and not meta.get("solution"))
        if not locked or grade_id(cell) in present:
            continue
        position = _restored_position(released.cells, index, present)
        nb.cells.insert(position, copy.deepcopy(cell))
        present.insert(position, grade_id(cell))
        kind = "test cell" if meta.get("grade") else "locked cell"
        notes.append(f"{kind} {grade_id(cell)} was missing from {name}; the original was put back")
    return notes


def _restored_position(released_cells, index: int, present: list) -> int:
    """Where released cell `index` goes back: after the graded cell released just before
    it, if the submission has that one; else before the next released graded cell it has
    (a test never runs before its solution cell); else at the end."""
    before = [grade_id(c) for c in released_cells[:index] if grade_id(c)]
    if before and before[-1] in present:
        return present.index(before[-1]) + 1
    after = [grade_id(c) for c in released_cells[index + 1 :] if grade_id(c) in present]
    after = [gid for gid in after if gid is not None]
    if after:
        return present.index(after[0])
    return len(present)


def _api(course: Path, db_url: str, bundle: AssignmentBundle, work: Path, kernel: Path, info):
    from nbconvert.exporters import NotebookExporter
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )
    from traitlets.config import Config

    from cs231n_lib.grading.execute import GuardedExecute

    limits = bundle.limits
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = bundle.course_id
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.db_url = db_url
    # nbgrader's pipeline, with GuardedExecute in place of Execute.
    config.Autograde.autograde_preprocessors = [
        GuardedExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    config.Execute.timeout = limits.cell_timeout
    config.Execute.interrupt_on_timeout = True
    config.Execute.extra_arguments = list(bundle.kernel_arguments)
    config.GuardedExecute.notebook_timeout = limits.notebook_timeout
    config.GuardedExecute.memory_limit = limits.memory
    config.GuardedExecute.max_output = limits.max_output
    config.GuardedExecute.max_file_size = limits.max_file_size
    config.GuardedExecute.bwrap = info.bwrap
    config.GuardedExecute.work_dir = str(work)
    config.GuardedExecute.kernel_dir = str(kernel)
    config.GuardedExecute.package_dirs = _withheld_packages(bundle)
    # The course's nbgrader_config.py makes nbgrader's own autograde refuse (guard.py); this
    # one is the sandboxed pipeline above, so it gets nbgrader's exporter back, explicitly.
    config.Autograde.exporter_class = NotebookExporter
    config.GenerateFeedback.preprocessors = feedback_preprocessors()
    config.GenerateFeedback.exporter_class = FeedbackExporter  # templates compiled once
    config.merge(exporter_config())  # feedback pages render sanitized notebooks only
    config.merge(offline_config())  # and load MathJax from feedback/.mathjax, not a CDN
    config.HideHiddenTests.released = {
        Path(name).stem: _released_sources(data) for name, data in bundle.release.items()
    }
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _withheld_packages(bundle: AssignmentBundle) -> dict[str, str]:
    """notebook name -> the package copy its kernel imports (its exercises withheld),
    built once per machine and package version in a cache under the temporary folder."""
    from cs231n_lib.grading import withhold

    cache = Path(tempfile.gettempdir()) / f"cs231n-withheld-{os.getuid()}"
    cache.mkdir(mode=0o755, exist_ok=True)
    return {
        Path(name).stem: str(withhold.cached_withheld_package(set(names), label, cache))
        for name, (names, label) in bundle.withheld.items()
    }


def _released_sources(data: bytes) -> dict[str, str]:
    import nbformat

    nb = nbformat.reads(data, as_version=4)
    return {grade_id(cell): cell.source for cell in nb.cells if grade_id(cell)}


def _failure(outcome: dict, kernel_log: Path | None) -> str:
    text = (outcome.get("error") or outcome.get("log") or "").strip().splitlines()
    message = text[-1] if text else "no details"
    if kernel_log is not None and kernel_log.is_file():
        tail = kernel_log.read_text(errors="replace").strip().splitlines()[-3:]
        if tail:
            message += f" (kernel log: {' | '.join(tail)})"
    return f"nbgrader failed: {message}"


def _apply_trusted_record(db_url, assignment, student, release, unrunnable) -> None:
    """Every autograded test cell's score from the trusted process's record of it (see
    trusted.RECORDS): its points if it passed there, else 0; never from its outputs."""
    import nbformat
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        for name, data in release.items():
            if name in unrunnable:
                continue
            notebook = Path(name).stem
            record = trusted.RECORDS.pop(notebook, {})
            for cell in nbformat.reads(data, as_version=4).cells:
                if not trusted.is_test_cell(cell):
                    continue
                grade = gradebook.find_grade(grade_id(cell), notebook, assignment, student)
                grade.auto_score = grade.max_score if record.get(grade_id(cell)) else 0
        gradebook.db.commit()


def _zero_unrunnable(db_url: str, assignment: str, student: str, notebooks: list[str]) -> None:
    """Score 0, with no manual grading to do, every cell of notebooks that were missing
    or unreadable (what nbgrader itself does for a missing notebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(assignment, student)
        for name in notebooks:
            submission = gradebook.find_submission_notebook(name, assignment, student)
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gradebook.db.commit()


def _apply_manual_grades(db_url: str, assignment: str, student: str, manual: dict) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    if not manual:
        return
    with Gradebook(db_url) as gradebook:
        for key, values in manual.items():
            notebook, name = key.split("/", 1)
            with contextlib.suppress(MissingEntry):
                if values.get("manual_score") is not None or values.get("extra_credit"):
                    grade = gradebook.find_grade(name, notebook, assignment, student)
                    grade.manual_score = values.get("manual_score")
                    grade.extra_credit = values.get("extra_credit")
                    # As nbgrader's SaveAutoGrades: a manual grade asks for a review.
                    grade.needs_manual_grade = (
                        grade.manual_score is not None or grade.needs_manual_grade
                    )
            with contextlib.suppress(MissingEntry):
                if values.get("manual_comment"):
                    comment = gradebook.find_comment(name, notebook, assignment, student)
                    comment.manual_comment = values["manual_comment"]
        gradebook.db.commit()


def _read_cells(db_url, assignment, student, release, autograded: Path) -> list[CellResult]:
    """Each graded cell in release order, with its gradebook values and the status and
    message read from the executed notebook."""
    import nbformat
    from nbgrader.api import Gradebook

    cells = []
    with Gradebook(db_url) as gradebook:
        for name, data in release.items():
            released = nbformat.reads(data, as_version=4)
            notebook = Path(name).stem
            path = autograded / name
            executed = nbformat.read(path, as_version=4) if path.is_file() else None
            by_id = {}
            if executed is not None:
                for cell in executed.cells:
                    by_id.setdefault(grade_id(cell), cell)
            for cell in released.cells:
                meta = nbgrader_metadata(cell)
                if not meta.get("grade"):
                    continue
                grade = gradebook.find_grade(meta["grade_id"], notebook, assignment, student)
                manual = cell.cell_type != "code" or bool(meta.get("solution"))
                status, message = _status(grade, by_id.get(meta["grade_id"]), manual, executed)
                cells.append(
                    CellResult(
                        notebook=notebook,
                        grade_id=meta["grade_id"],
                        max_score=grade.max_score,
                        auto_score=grade.auto_score,
                        needs_manual_grade=bool(grade.needs_manual_grade),
                        status=status,
                        message=message,
                        manual_score=grade.manual_score,
                    )
                )
    return cells


def _kernel_deaths(autograded: Path, release: dict) -> list[str]:
    """A note for each notebook whose kernel died or was stopped, with the reason."""
    import nbformat

    from cs231n_lib.grading.execute import KERNEL_DIED

    notes = []
    for name in release:
        path = autograded / name
        if not path.is_file():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error" and output.ename == KERNEL_DIED:
                    notes.append(f"{name}: {output.evalue}; later cells did not run and score 0")
    return notes


def _status(grade, cell, manual: bool, executed) -> tuple[str, str]:
    from cs231n_lib.grading.execute import NOT_RUN

    if manual:
        return "manual", ""
    if executed is None:
        return "not run", "the notebook could not be run"
    if cell is None:
        return "not run", "the cell is missing"
    score = grade.auto_score or 0
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    if any(o.ename == NOT_RUN for o in errors):
        return "not run", next(o.evalue for o in errors if o.ename == NOT_RUN)
    if score >= grade.max_score:
        return "passed", ""
    if errors:
        error = errors[-1] if errors[-1].ename == "CellTimeoutError" else errors[0]
        first = (error.evalue.strip().splitlines() or [""])[0]
        return "failed", cap_text(f"{error.ename}: {first}" if first else error.ename)
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            first = (output.text.strip().splitlines() or [""])[0]
            return "failed", cap_text(f"wrote to stderr (a test cell must stay quiet): {first}")
    return ("partial" if score > 0 else "failed"), ""


def _record(result: SubmissionResult, db_url, assignment, student, cells, notes) -> None:
    """Copy what nbgrader stored in the scratch gradebook into the result."""
    from nbgrader.api import Gradebook

    result.cells, result.notes = cells, notes
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        if submission.timestamp is not None:
            result.timestamp = submission.timestamp.isoformat()
        for notebook in submission.notebooks:
            result.late_penalties[notebook.name] = notebook.late_submission_penalty
            for comment in notebook.comments:
                result.comments[f"{notebook.name}/{comment.name}"] = comment.auto_comment


def _cell_json(cell: CellResult) -> dict:
    return {
        "notebook": cell.notebook,
        "grade_id": cell.grade_id,
        "score": cell.score,
        "max_score": cell.max_score,
        "status": cell.status,
        "message": cell.message,
    }


def warm_up() -> str:
    """Import what grading needs (seconds per fresh process); returns the host name."""
    import nbgrader.apps  # noqa: F401

    from cs231n_lib.grading import execute  # noqa: F401

    quiet_warnings()
    return platform.node() or os.uname().nodename
