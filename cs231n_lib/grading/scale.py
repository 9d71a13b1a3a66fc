"""Grading a whole class: `grade_class`, behind `cs231n grade`.

1. Sync the course gradebook with solutions/ (nbgrader generate_assignment) and build a
   bundle every task shares: a gradebook that knows the assignment and no student, the
   released notebooks, the limits.
2. Intake: an export folder is unpacked into submitted/ (`--from`); each student's
   folder becomes a `Submission`.
3. One task per submission (`worker.grade_submission`) runs on a local process pool
   (`--jobs N`) or on a Dask cluster (`--scheduler ADDRESS`); each grades in a scratch
   course with its own gradebook and its own sandboxed kernel.
4. This process alone writes the course (`merge.merge_result`), one result at a time as
   they arrive, then exports grades.csv and the per-cell CSVs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from cs231n_lib.grading import course, intake, sandbox
from cs231n_lib.grading.feedback import export_cell_csvs
from cs231n_lib.grading.limits import DEFAULT_LIMITS, DEFAULT_SANDBOX_MODE, Limits
from cs231n_lib.grading.merge import manual_grades, merge_result
from cs231n_lib.grading.results import ClassReport, SubmissionReport, SubmissionResult
from cs231n_lib.grading.worker import AssignmentBundle, grade_submission, warm_up


def default_limits(root: Path) -> Limits:
    """The default limits, with the per-cell timeout of the course's nbgrader_config.py
    (Execute.timeout: the default there too, unless the instructor wrote another)."""
    config = course.make_api(root).config
    timeout = config.Execute.get("timeout", DEFAULT_LIMITS.cell_timeout)
    return replace(DEFAULT_LIMITS, cell_timeout=int(timeout))


def grade_class(
    root: Path,
    assignment: str,
    students: list[str] | None = None,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    limits: Limits | None = None,
    sandbox_mode: str = DEFAULT_SANDBOX_MODE,
    import_from: Path | None = None,
    id_pattern: str = intake.ID_PATTERN,
    progress: Callable[[SubmissionReport], None] | None = None,
) -> ClassReport:
    """Autograde every submission of `assignment` (or only `students`), in parallel.

    Raises CourseError with a one-line reason for bad input (unknown assignment, no
    submissions, unreachable scheduler, a required sandbox that is missing).
    """
    start = time.monotonic()
    course.check_assignment(root, assignment)
    if jobs < 1:
        raise course.CourseError(f"--jobs {jobs} must be at least 1")
    course.quiet_warnings()
    local_sandbox = _local_sandbox(sandbox_mode) if scheduler is None else None
    limits = limits or default_limits(root)
    db_url = course.default_db_url(root)
    # Bad input fails before any work.
    selected = _select(root, assignment, students) if import_from is None else []
    if import_from is not None:
        if not Path(import_from).is_dir():
            raise course.CourseError(f"--from {import_from}: no such folder")
        try:
            intake.check_pattern(id_pattern)
        except intake.IntakeError as exc:
            raise course.CourseError(str(exc)) from None
    # Worker processes import nbgrader (seconds) while this one syncs the gradebook.
    pool = _start_pool(jobs) if scheduler is None else None
    try:
        duedate = sync_gradebook(root, assignment, db_url)
        bundle = make_bundle(root, assignment, limits, sandbox_mode, local_sandbox, duedate)
        expected = {n: intake.grade_ids(data) or set() for n, data in bundle.release.items()}
        problems: list[str] = []
        if import_from is not None:
            imported, problems = _import(root, assignment, expected, import_from, id_pattern)
            selected = _select(root, assignment, sorted(set(students or []) | set(imported)))
        reports, submissions = _read_submissions(root, assignment, expected, selected)
        if progress is not None:
            for report in reports:  # refused at intake: named with the reason, as graded ones
                progress(report)
        manual = {s.student: manual_grades(db_url, assignment, s.student) for s in submissions}
        if scheduler is None:
            results = _run_local(submissions, bundle, manual, jobs, pool)
        else:
            results = _run_dask(submissions, bundle, manual, scheduler)
        reports += _merge_all(root, db_url, results, len(submissions), progress)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    course.export_csv(db_url, root / "grades.csv")
    _, _, hardest = export_cell_csvs(root, db_url)
    unsandboxed = [r for r in reports if r.success and not r.sandboxed]
    warning = ""
    if unsandboxed:
        reason = unsandboxed[0].sandbox_reason or (local_sandbox.reason if local_sandbox else "")
        warning = (
            f"WARNING: {len(unsandboxed)} of {len(reports)} submissions were graded "
            f"UNSANDBOXED ({reason})"
        )
    return ClassReport(
        assignment,
        sorted(reports, key=lambda r: r.student),
        problems,
        warning,
        time.monotonic() - start,
        [h for h in hardest if h["assignment"] == assignment],
    )


def _import(root, assignment, expected, folder: Path, pattern: str) -> tuple[list[str], list[str]]:
    try:
        imported, problems = intake.import_folder(folder, root, assignment, expected, pattern)
    except intake.IntakeError as exc:
        raise course.CourseError(str(exc)) from None
    if not imported:
        raise course.CourseError(f"nothing imported from {folder}: {'; '.join(problems)}")
    return imported, problems


def _read_submissions(root, assignment, expected, students):
    """(reports of unreadable submission folders, submissions to grade)."""
    reports, submissions = [], []
    for student in students:
        folder = root / "submitted" / student / assignment
        try:
            submissions.append(intake.read_submission(folder, student, expected, assignment))
        except intake.IntakeError as exc:
            reports.append(SubmissionReport(student, False, error=str(exc)))
    return reports, submissions


def _local_sandbox(mode: str) -> sandbox.SandboxInfo:
    try:
        return sandbox.detect_sandbox(mode)
    except (RuntimeError, ValueError) as exc:
        raise course.CourseError(str(exc)) from None


def _select(root: Path, assignment: str, students: list[str] | None) -> list[str]:
    available = course.submitted_students(root, assignment)
    if students:
        missing = sorted(set(students) - set(available))
        if missing:
            raise course.CourseError(
                f"no submission of {assignment} for {', '.join(missing)} in submitted/"
            )
        return sorted(set(students))
    if not available:
        raise course.CourseError(
            f"nothing to grade: no folder submitted/<student>/{assignment}/ in {root}"
        )
    return available


def sync_gradebook(root: Path, assignment: str, db_url: str) -> datetime | None:
    """Teach the course gradebook at `db_url` the assignment's graded cells as solutions/
    has them now (nbgrader generate_assignment); returns the assignment's due date."""
    from nbgrader.api import Gradebook, MissingEntry

    with tempfile.TemporaryDirectory(prefix="cs231n-sync-") as scratch:
        course.generate_release(root, assignment, Path(scratch) / "release", db_url)
    with Gradebook(db_url) as gradebook:
        try:
            return gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            return None


def make_bundle(
    root: Path,
    assignment: str,
    limits: Limits | None = None,
    sandbox_mode: str = DEFAULT_SANDBOX_MODE,
    sandbox_info: sandbox.SandboxInfo | None = None,
    duedate: datetime | None = None,
) -> AssignmentBundle:
    """What every task grading `assignment` shares: a gradebook that knows the assignment
    (due on `duedate`) and no student, the released notebooks, the assignment's other
    files, the limits (default: `default_limits`) and the sandbox. `sandbox_info` is
    the machine's, for workers on it; None lets each worker probe its own."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import find_all_files

    with tempfile.TemporaryDirectory(prefix="cs231n-grade-") as scratch:
        scratch = Path(scratch)
        template = scratch / "gradebook.db"
        release = course.generate_release(
            root, assignment, scratch / "release", f"sqlite:///{template}"
        )
        if duedate is not None:
            with Gradebook(f"sqlite:///{template}") as gradebook:
                gradebook.update_or_create_assignment(assignment, duedate=duedate)
        notebooks = {p.name: p.read_bytes() for p in sorted(release.glob("*.ipynb"))}
        template_bytes = template.read_bytes()
    api = course.make_api(root)
    source = root / "solutions" / assignment
    ignore = list(api.coursedir.ignore) + ["*.ipynb"]
    source_files = {
        Path(f).relative_to(source).as_posix(): Path(f).read_bytes()
        for f in find_all_files(str(source), ignore)
    }
    from cs231n_lib.grading import withhold

    warm_data_caches(notebooks)
    withheld = {
        name: (sorted(withhold.exercises(source / name)), withhold.notebook_label(source / name))
        for name in notebooks
        if (source / name).is_file()
    }
    return AssignmentBundle(
        assignment=assignment,
        course_id=api.coursedir.course_id or "course",
        withheld=withheld,
        gradebook=template_bytes,
        release=notebooks,
        source_files=source_files,
        limits=limits or default_limits(root),
        sandbox_mode=sandbox_mode,
        kernel_arguments=list(api.config.Execute.get("extra_arguments", [])),
        sandbox_info=sandbox_info,
    )


def warm_data_caches(notebooks: dict[str, bytes]) -> None:
    """Fill the data directory's caches that the released `notebooks` (name -> bytes) use
    in fast mode, before any submission runs: a sandboxed kernel sees that directory
    read-only, so without this every submission would train them again, in memory.
    08's caption features: the fast weights for seed 0 (the notebooks' SEED); 12's sample
    scorer for seed 0."""
    if any(b"caption_features" in source for source in notebooks.values()):
        from cs231n_lib.blocks.caption_features import cache_path, warm_cache

        if not cache_path(0, "fast").is_file():
            print("training 08's fast caption features (once per machine) ...", file=sys.stderr)
        warm_cache(seed=0, budget="fast")
    if any(b"sample_scorer" in source for source in notebooks.values()):
        from cs231n_lib.blocks import sample_scorer

        if not sample_scorer.cache_path(0).is_file():
            print("training 12's sample scorer (once per machine) ...", file=sys.stderr)
        sample_scorer.warm_cache(0)


def _start_pool(jobs: int) -> ProcessPoolExecutor:
    context = get_context("spawn")  # no inherited threads or open gradebooks
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=warm_up)
    for _ in range(jobs):
        pool.submit(warm_up)
    return pool


def _run_local(submissions, bundle, manual, jobs: int, pool) -> Iterator[SubmissionResult]:
    """Grade on `jobs` local worker processes, yielding results as they finish.

    A worker process that dies breaks the whole pool, and the pool cannot say whose task
    killed it: what was unfinished is graded again, each submission on a process of its
    own (`jobs` at a time), so that a submission that kills its process loses only its
    own grade, reported with the reason."""
    suspects = []
    with pool:
        futures = {
            pool.submit(grade_submission, s, bundle, manual[s.student]): s for s in submissions
        }
        try:
            for future in as_completed(futures):
                result = _result_of(future, futures[future], bundle)  # raises if broken
                del futures[future]
                yield result
        except BrokenProcessPool:
            for future, submission in futures.items():
                if future.done() and future.exception() is None:
                    yield future.result()  # finished before the pool broke
                else:
                    suspects.append(submission)
    if suspects:
        yield from _run_isolated(suspects, bundle, manual, jobs)


def _run_isolated(submissions, bundle, manual, jobs: int) -> Iterator[SubmissionResult]:
    """Grade each submission in a pool of one process, `jobs` pools at a time."""
    waiting = list(submissions)
    running: dict = {}  # future -> (submission, its pool)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                submission = waiting.pop(0)
                alone = _start_pool(1)
                future = alone.submit(
                    grade_submission, submission, bundle, manual[submission.student]
                )
                running[future] = (submission, alone)
            done = next(as_completed(running))
            submission, alone = running.pop(done)
            alone.shutdown(wait=False, cancel_futures=True)
            if isinstance(done.exception(), BrokenProcessPool):
                yield _lost(
                    submission,
                    bundle,
                    f"its grading process died while grading it, alone (what the submission "
                    f"ran may have killed it); re-grade it with --student {submission.student}",
                )
            else:
                yield _result_of(done, submission, bundle)
    finally:
        for _, alone in running.values():
            alone.shutdown(wait=False, cancel_futures=True)


def _result_of(future, submission, bundle) -> SubmissionResult:
    error = future.exception()
    if isinstance(error, BrokenProcessPool):
        raise error
    if error is not None:
        return _lost(submission, bundle, f"the grading worker failed: {error}")
    return future.result()


def _lost(submission, bundle, why: str) -> SubmissionResult:
    return SubmissionResult(bundle.assignment, submission.student, False, error=why)


def _run_dask(submissions, bundle, manual, address: str) -> Iterator[SubmissionResult]:
    """Grade on the Dask cluster at `address`, yielding results as they finish."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise course.CourseError(
            "--scheduler needs dask.distributed: pip install 'distributed'"
        ) from None
    try:
        client = Client(address, timeout="15s")
    except (OSError, TimeoutError) as exc:
        raise course.CourseError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        client.run(warm_up)  # imports on every worker at once, before the first task
        shared = client.scatter(bundle, broadcast=True)
        futures = {
            client.submit(
                grade_submission,
                s,
                shared,
                manual[s.student],
                key=f"grade-{bundle.assignment}-{s.student}-{time.time_ns()}",
                pure=False,
            ): s
            for s in submissions
        }
        for future in dask_completed(futures):
            submission = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001  a task that failed on its worker
                yield _lost(submission, bundle, f"the Dask task failed: {exc}")


def _merge_all(root, db_url, results, total: int, progress) -> list[SubmissionReport]:
    """Merge each result as it arrives (the single writer), with a progress bar."""
    from tqdm.auto import tqdm

    reports = []
    with tqdm(total=total, unit="submission", file=sys.stderr, disable=None) as bar:
        for result in results:
            reports.append(merge_result(root, db_url, result))
            bar.update()
            if progress is not None:
                with tqdm.external_write_mode():
                    progress(reports[-1])
    return reports
