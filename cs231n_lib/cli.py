"""The `cs231n` command: lab, data, release, check, grade, similarity.

Exit status: 0 success, 1 a check that failed (tests, release out of sync, a submission
that could not be graded), 2 bad input (unknown assignment, missing notebook, ...).

What submissions wrote (student ids, file names, failure messages, notes) is printed
through `escape.one_line`: control characters show as `\x1b`, `\r`, `\n`, so no
submission can colour the terminal or print a line that looks like a grade.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from cs231n_lib.grading.escape import one_line

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input: reported as one line, exit status 2."""


def _root(args, instructor: str | None = None) -> Path:
    """The course: --course (checked in `main`), else the one the current directory is
    in; never another. `instructor` names a command that needs solutions/, which a
    student edition lacks."""
    from cs231n_lib.grading.course import CourseError, find_course_root, require_solutions

    try:
        root = args.course if args.course is not None else find_course_root()
        if instructor is not None:
            require_solutions(root, instructor)
    except CourseError as exc:
        raise UsageError(str(exc)) from None
    return root


def cmd_lab(args, extra: list[str]) -> int:
    """Start JupyterLab on assignments/."""
    root = _root(args)
    folder = root / "assignments"
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist; run `cs231n release` first")
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={folder}"]
    # The lab's own Jupyter config, written under the course (git-ignored), first on the
    # config path: no news check; nbgrader's exchange lists (assignment list, course list)
    # off, as the course uses no exchange; set c.Exchange.root in nbgrader_config.py to
    # keep them. The formgrader and create assignment stay on.
    import json

    config_dir = root / ".jupyter_lab"
    course_config = root / "nbgrader_config.py"
    lists_on = course_config.is_file() and "c.Exchange.root" in course_config.read_text()
    server_lists = {
        f"nbgrader.server_extensions.{n}": lists_on for n in ("assignment_list", "course_list")
    }
    lab_lists = {f"@jupyter/nbgrader:{n}": not lists_on for n in ("assignment-list", "course-list")}
    server = {"LabApp": {"news_url": None}, "ServerApp": {"jpserver_extensions": server_lists}}
    page = {"disabledExtensions": lab_lists}
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(page, indent=1))
    paths = [str(config_dir), os.environ.get("JUPYTER_CONFIG_PATH", "")]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in paths if p)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        # Containers and CI machines often run as root, which Jupyter refuses by default.
        print("cs231n lab: running as root, passing --allow-root to JupyterLab", flush=True)
        command.append("--allow-root")
    command += extra
    os.chdir(root)  # nbgrader's extensions read the course's nbgrader_config.py from cwd
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_data(args, extra: list[str]) -> int:
    """List data sets, or download one."""
    from cs231n_lib.data import DATASETS

    if args.action == "list":
        from cs231n_lib.config import data_dir

        print(f"data directory: {data_dir()}")
        for name, description in DATASETS.items():
            print(f"  {name:<8} {description}")
        return 0
    if args.name not in DATASETS:
        raise UsageError(f"unknown data set {args.name!r}; known: {', '.join(DATASETS)}")
    if args.name != "cifar10":
        # NOTE: every other data set ships with a library or is drawn by the course.
        print(f"{args.name} needs no download: it is bundled or made on first use, offline")
        return 0
    from cs231n_lib.data import cifar10

    try:
        path = cifar10.download(url=args.url or cifar10.URL)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"cs231n data download: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{args.name} is ready in {path}")
    return 0


def cmd_release(args, extra: list[str]) -> int:
    """Generate assignments/ from solutions/, or check that it is in sync."""
    from cs231n_lib.grading import course

    root = _root(args, "release")
    if args.student_edition is not None:
        from cs231n_lib.grading import edition

        if args.check or args.assignments:
            raise UsageError("--student-edition takes --upto ASSIGNMENT, not --check or names")
        try:
            summary = edition.write_student_edition(root, args.student_edition, upto=args.upto)
        except (edition.EditionError, OSError) as exc:
            raise UsageError(str(exc)) from None
        print(edition.format_summary(summary))
        return 0
    if args.upto is not None:
        raise UsageError("--upto ASSIGNMENT goes with --student-edition DIR")
    names = args.assignments or course.list_assignments(root)
    for name in names:
        try:
            course.check_assignment(root, name)
        except course.CourseError as exc:
            raise UsageError(str(exc)) from None
    if args.check:
        stale = []
        for name in names:
            stale += course.release_differences(root, name)
        for path in stale:
            print(f"out of sync: {path}")
        if stale:
            print("run `cs231n release` and commit assignments/", file=sys.stderr)
            return EXIT_FAILED
        print(f"assignments/ is in sync with solutions/ ({', '.join(names)})")
        return 0
    for name in names:
        target = course.release(root, name)
        print(f"released {name} -> {target.relative_to(root)}")
    return 0


def cmd_check(args, extra: list[str]) -> int:
    """Run a notebook as the autograder will and report each graded cell: the progress on
    stderr, the report on stdout; exit 1 when a test fails, a graded cell was deleted or
    an inline answer is still to write."""
    from cs231n_lib.grading.notebooks import NotebookError
    from cs231n_lib.grading.selfcheck import Progress, check_notebook, format_report

    path = Path(args.notebook)
    try:
        result = check_notebook(
            path, fast=not args.full, course=args.course, progress=Progress(sys.stderr)
        )
    except NotebookError as exc:
        raise UsageError(str(exc)) from None
    print(format_report(result, path.name))  # escapes what the notebook wrote
    return EXIT_FAILED if result.failed or result.unanswered else 0


def cmd_grade(args, extra: list[str]) -> int:
    """Autograde a class in parallel and sandboxed; feedback, grades.csv, per-cell CSVs."""
    root = _root(args, "grade")  # first: a student edition has no grader to import
    from cs231n_lib.grading import course, intake, sandbox, scale
    from cs231n_lib.grading.limits import parse_size

    course.quiet_warnings()
    os.environ["CS231N_FAST"] = "1"  # autograding runs in fast mode, as the tests do
    for option, value in [
        ("--jobs", args.jobs),
        ("--cell-timeout", args.cell_timeout),
        ("--notebook-timeout", args.notebook_timeout),
    ]:
        if value is not None and value < 1:
            raise UsageError(f"{option} {value} must be at least 1")
    try:
        course.check_assignment(root, args.assignment)
        limits = scale.default_limits(root)
        limits = replace(
            limits,
            cell_timeout=_given(args.cell_timeout, limits.cell_timeout),
            notebook_timeout=_given(args.notebook_timeout, limits.notebook_timeout),
            memory=parse_size(args.memory_limit) if args.memory_limit else limits.memory,
        )
    except (course.CourseError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.jobs} job(s)"
    print(f"grading {args.assignment} in {root} on {where}", flush=True)
    if not args.scheduler:
        try:
            info = sandbox.detect_sandbox(args.sandbox)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        print(f"sandbox: {info.bwrap}" if info.active else info.warning, flush=True)
    try:
        result = scale.grade_class(
            root,
            args.assignment,
            args.student,
            jobs=args.jobs,
            scheduler=args.scheduler,
            limits=limits,
            sandbox_mode=args.sandbox,
            import_from=args.import_from,
            id_pattern=args.id_pattern or intake.ID_PATTERN,
        )
    except course.CourseError as exc:
        raise UsageError(str(exc)) from None
    from cs231n_lib.grading.feedback import ensure_mathjax

    ensure_mathjax(root / "feedback")  # the feedback pages' formulas, offline
    for report in sorted(result.reports, key=lambda r: r.student):
        print(_report_line(report))
    _print_summary(root, result)
    return EXIT_FAILED if result.failed or result.problems else 0


def _given(value, default):
    return default if value is None else value


def _report_line(report) -> str:
    """One student's result: score, points still to grade by hand, failed tests with
    their first message, and notes; what the submission wrote is escaped (`one_line`)."""
    student = one_line(report.student)
    if not report.success:
        return f"  {student}: NOT GRADED: {one_line(report.error)}"
    line = f"  {student}: {report.score:g}/{report.max_score:g}"
    if report.pending_score:
        line += f" (+ {report.pending_score:g} to grade by hand)"
    failed = [c for c in report.cells if c.status in {"failed", "partial"}]
    not_run = [c for c in report.cells if c.status == "not run"]
    if failed:
        shown = [
            f"{one_line(c.grade_id)} ({_short(c.message)})" if c.message else one_line(c.grade_id)
            for c in failed
        ]
        line += f"  failed: {', '.join(shown)}"
    if not_run:
        line += f"  not run: {len(not_run)} test(s), {_short(not_run[0].message, 90)}"
    return "\n".join([line] + [f"      note: {one_line(note)}" for note in report.notes])


def _short(text: str, width: int = 60) -> str:
    """`text` escaped (`one_line`) and cut to `width` characters."""
    text = one_line(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_summary(root: Path, result) -> None:
    from cs231n_lib.grading.course import PENDING_COLUMN

    graded = len(result.reports) - len(result.failed)
    rate = 60 * graded / result.seconds if result.seconds else 0.0
    print(
        f"graded {graded} of {len(result.reports)} submissions in {result.seconds:.0f} s "
        f"({rate:.1f} per minute); grades in {root / 'grades.csv'} and grades_by_cell.csv, "
        f"feedback in {root / 'feedback'}"
    )
    pending = [r for r in result.reports if r.success and r.pending_score]
    if pending:
        points = sum(r.pending_score for r in pending)
        print(
            f"to grade by hand: {points:g} point(s) in {len(pending)} submission(s), not in "
            f"the scores above (grades.csv: column {PENDING_COLUMN}); nbgrader's formgrader "
            f"lists them under Manual Grading"
        )
    hardest = [h for h in result.hardest if h["failed"]][:5]
    if hardest:
        print("tests the class fails most:")
        for test in hardest:
            common = (
                f"; most often {_short(test['most_common_failure'])}"
                if test["most_common_failure"]
                else ""
            )
            grade_id = one_line(test["grade_id"])
            print(f"  {grade_id}: {test['failed']} of {test['submissions']} failed{common}")
    for problem in result.problems:
        print(f"intake: {one_line(problem)}")
    if result.sandbox_warning:
        print(one_line(result.sandbox_warning), file=sys.stderr)


def cmd_similarity(args, extra: list[str]) -> int:
    """Solution cells close to another student's or to the package's code, side by side."""
    root = _root(args, "similarity")  # first: a student edition has no withhold module
    from cs231n_lib.grading import course, similarity
    from cs231n_lib.grading.withhold import EQUIVALENTS

    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold {args.threshold} must be between 0 and 1")
    if args.min_tokens < 1:
        raise UsageError(f"--min-tokens {args.min_tokens} must be at least 1")
    out = args.out or root / "similarity" / f"{args.assignment}.html"
    try:
        report = similarity.similarity_report(
            root,
            args.assignment,
            source=args.source,
            threshold=args.threshold,
            min_tokens=args.min_tokens,
            progress=True,
            equivalents=EQUIVALENTS,  # package versions of an exercise under another name
        )
    except course.CourseError as exc:
        raise UsageError(str(exc)) from None
    print(similarity.format_table(report))
    try:
        similarity.write_html(report, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from None
    print(f"side by side: {out}")
    return 0


def _checked_course(folder: Path) -> Path:
    """--course: `folder` resolved if it is a course, else UsageError saying what it lacks."""
    from cs231n_lib.grading.course import CourseError, check_course

    try:
        return check_course(folder)
    except CourseError as exc:
        raise UsageError(str(exc)) from None


def _port(text: str) -> int:
    """--port: a TCP port number, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    from cs231n_lib.grading.limits import (
        DEFAULT_LIMITS,
        DEFAULT_SANDBOX_MODE,
        SANDBOX_MODES,
        format_size,
    )
    from cs231n_lib.grading.similarity import DEFAULT_MIN_TOKENS, DEFAULT_THRESHOLD, SOURCES

    parser = argparse.ArgumentParser(
        prog="cs231n", description="Course companion for deep learning in computer vision."
    )
    parser.add_argument(
        "--course",
        type=Path,
        default=None,
        metavar="DIR",
        help="the course folder: nbgrader_config.py beside solutions/ or assignments/ "
        "(default: the course the current directory is in)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = sub.add_parser(
        "lab",
        help="start JupyterLab on assignments/ (extra args go to it)",
        description="Start JupyterLab on the course's assignments/ folder, the notebooks "
        "students work in, and print the URL to open. Options not listed here go to "
        "JupyterLab as they are, e.g. --no-browser or --ServerApp.ip=0.0.0.0; as root, "
        "--allow-root is added.",
    )
    lab.add_argument(
        "--port",
        type=_port,
        metavar="N",
        help="serve on this port (default: JupyterLab's, 8888 or the next free one)",
    )
    lab.set_defaults(func=cmd_lab, passthrough=True)

    data = sub.add_parser("data", help="list or download data sets")
    data_sub = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    data_sub.add_parser("list", help="list the data sets and where they live")
    download = data_sub.add_parser("download", help="download a data set")
    download.add_argument("name", help="data set name, e.g. cifar10")
    download.add_argument(
        "--url", help="download from this mirror instead (the checksum is still verified)"
    )
    data.set_defaults(func=cmd_data)

    rel = sub.add_parser("release", help="generate assignments/ from solutions/")
    rel.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    rel.add_argument(
        "--check", action="store_true", help="exit 1 and name each out-of-sync notebook"
    )
    rel.add_argument(
        "--student-edition",
        type=Path,
        metavar="DIR",
        help="write what a student downloads into DIR (new, empty or an earlier edition): "
        "the release notebooks, the package, a README and Makefile; no solutions",
    )
    rel.add_argument(
        "--upto",
        metavar="ASSIGNMENT",
        help="with --student-edition: only the assignments up to this one (e.g. 02_linear)",
    )
    rel.set_defaults(func=cmd_release)

    check = sub.add_parser("check", help="self-check a notebook as the autograder would")
    check.add_argument("notebook", help="path to the .ipynb file")
    check.add_argument("--full", action="store_true", help="run in full mode, not fast mode")
    check.set_defaults(func=cmd_check)

    grade = sub.add_parser(
        "grade",
        help="autograde submitted/ (parallel, sandboxed), make feedback and grades.csv",
        description="Autograde every submission of ASSIGNMENT in submitted/<student>/, each in "
        "its own scratch course and sandboxed kernel; merge into gradebook.db, write "
        "feedback/, grades.csv, grades_by_cell.csv and grades_by_cell_summary.csv.",
    )
    grade.add_argument("assignment")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at once")
    grade.add_argument(
        "--scheduler", metavar="ADDRESS", help="run the tasks on this Dask cluster instead"
    )
    grade.add_argument(
        "--from",
        dest="import_from",
        type=Path,
        metavar="FOLDER",
        help="first import an LMS export: one .ipynb or .zip per student, id in the name",
    )
    grade.add_argument(
        "--id-pattern",
        metavar="REGEX",
        help="regex with a group (?P<student>...) or, as in nbgrader's zip_collect, "
        "(?P<student_id>...) that finds the id in an exported file's name (default: the "
        "name up to its first underscore)",
    )
    grade.add_argument(
        "--cell-timeout",
        type=int,
        metavar="S",
        help="seconds per cell (default: Execute.timeout in nbgrader_config.py)",
    )
    grade.add_argument(
        "--notebook-timeout",
        type=int,
        metavar="S",
        help=f"seconds per notebook (default {DEFAULT_LIMITS.notebook_timeout})",
    )
    grade.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help=f"per kernel, e.g. {format_size(DEFAULT_LIMITS.memory)} (default)",
    )
    grade.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default=DEFAULT_SANDBOX_MODE,
        help="bubblewrap sandbox: use if available (auto), fail without it, or never",
    )
    grade.set_defaults(func=cmd_grade)

    sim = sub.add_parser(
        "similarity",
        help="solution cells close to another student's or the package's code",
        description="Compare each solution cell of ASSIGNMENT's submissions with every other "
        "student's (their own code, the release's skeleton removed) and each def or class "
        "with the package's of the same name, on normalized syntax trees (local names, "
        "comments, docstrings, spacing and type hints do not count). Lists the pairs at or "
        "above the threshold and writes them side by side to an HTML page.",
    )
    sim.add_argument("assignment")
    sim.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="report scores at or above this, 0 to 1 (default %(default)s: renamed or "
        "reformatted copies score 0.95 and more)",
    )
    sim.add_argument(
        "--min-tokens",
        type=int,
        default=DEFAULT_MIN_TOKENS,
        help="skip code shorter than this many normalized tokens (default %(default)s)",
    )
    sim.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="submitted",
        help="read the notebooks of submitted/ (default) or autograded/",
    )
    sim.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the HTML page (default: similarity/ASSIGNMENT.html in the course)",
    )
    sim.set_defaults(func=cmd_similarity)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "port", None) is not None:
        extra = [f"--ServerApp.port={args.port}", *extra]  # JupyterLab's own option
    try:
        if args.course is not None:
            args.course = _checked_course(args.course)
        return args.func(args, extra)
    except UsageError as exc:
        print(f"cs231n {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"cs231n {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
