"""What students and instructors read after grading: HTML feedback and per-cell CSVs.

Feedback is nbgrader's own (`GenerateFeedback`, its HTML template and scores) with two
preprocessors added:

- `HideHiddenTests` shows each test cell as it was released (from `released` when the
  grader passes it, else from the course's release notebook, so that nbgrader's own
  `generate_feedback` and the formgrader's button hide hidden tests too; a cell the
  release lacks loses its hidden-test region), replaces the traceback of a
  failed test (whose code lines would quote the hidden tests) by its error message,
  blanks any output line that quotes a hidden test line, and keeps at most `max_output`
  bytes of each output (an error message is not capped by the kernel's output limit);
- `GradingSummary` puts a table at the top: each test's points, passed or failed, the
  failure message, and what happened to the submission (a kernel that died, a file
  that was renamed, a test cell that was put back).

`export_cell_csvs` writes `grades_by_cell.csv`, one row per student and graded cell,
and `grades_by_cell_summary.csv`, the autograded cells ordered by how many students
failed them, for item analysis. Messages and notes are capped (`MAX_MESSAGE_BYTES`) and
no CSV cell is a spreadsheet formula (`escape.csv_cell`).
"""

from __future__ import annotations

import csv
import functools
import html
import json
from collections import Counter
from pathlib import Path

import jinja2
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Dict, Integer

from cs231n_lib.grading.escape import cap_text, csv_row
from cs231n_lib.grading.limits import DEFAULT_LIMITS

TEMPLATES = Path(__file__).parent / "templates"  # mathjax.html.j2 for feedback, formgrade
MATHJAX_FOLDER = ".mathjax"  # in feedback/: hidden, so nbgrader never takes it for a student
SIDECAR = "cs231n_grading.json"  # per submission, beside the autograded notebooks
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters
MIN_REDACTED_LINE = 12  # shorter hidden-test lines (")", "for _ in range(3):") are not secret
CELL_FIELDS = [
    "assignment", "notebook", "grade_id", "student", "score", "max_score",
    "needs_manual_grade", "status", "message",
]  # fmt: skip
SUMMARY_FIELDS = [
    "assignment", "notebook", "grade_id", "max_score", "submissions", "failed",
    "failed_fraction", "mean_score", "most_common_failure",
]  # fmt: skip


class HideHiddenTests(NbGraderPreprocessor):
    """Show test cells as released; keep failure messages, drop hidden-test source."""

    released = Dict(help="notebook name -> {grade_id: released source}").tag(config=True)
    max_output = Integer(DEFAULT_LIMITS.max_output, help="bytes kept per output").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        released = self._released_sources(resources["nbgrader"])
        hidden: set[str] = set()
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in released and cell.cell_type == "code" and utils.is_grade(cell):
                shown_source = released[grade_id]
            elif BEGIN_HIDDEN in cell.source:
                shown_source = strip_hidden_region(cell.source)
            else:
                continue
            shown = {line.strip() for line in shown_source.splitlines()}
            hidden |= {line.strip() for line in cell.source.splitlines()} - shown
            cell.source = shown_source
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        hidden = {line for line in hidden if len(line) >= MIN_REDACTED_LINE}
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if hidden:
                    _redact(output, hidden)
                _cap_output(output, self.max_output)
        return nb, resources

    def _released_sources(self, info: dict) -> dict[str, str]:
        """grade_id -> released source for the notebook `info` names ({"assignment",
        "notebook", ...} of nbgrader's resources): `released` if it has the notebook, else
        read from the course's release directory ({} if there is no release notebook)."""
        if info["notebook"] in self.released:
            return self.released[info["notebook"]]
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        folder = coursedir.format_path(coursedir.release_directory, ".", info["assignment"])
        path = Path(folder) / f"{info['notebook']}.ipynb"
        if not path.is_file():
            self.log.warning("no release notebook %s: hidden-test regions are cut out", path)
            return {}
        return released_sources(path)


def released_sources(path: Path) -> dict[str, str]:
    """grade_id -> source of each graded or locked cell of the release notebook at `path`,
    read once per version of the file (path, size, modification time)."""
    stat = path.stat()
    return dict(_read_released(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _read_released(path: str, size: int, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pairs = []
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            pairs.append((grade_id, cell.source))
    return tuple(pairs)


def strip_hidden_region(source: str) -> str:
    """`source` without its `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` regions;
    a region that never ends runs to the end of the cell."""
    kept, hiding = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hiding = True
        elif END_HIDDEN in line and hiding:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "\n".join(kept)


def _cap_output(output: NotebookNode, limit: int) -> None:
    """At most `limit` bytes in each text of `output`, with a note where it was cut."""

    def cap(text):
        return cap_text("".join(text) if isinstance(text, list) else text, limit)

    if "text" in output:
        output.text = cap(output.text)
    if "evalue" in output:
        output.ename, output.evalue = cap(output.ename), cap(output.evalue)
        traceback = output.get("traceback", [])
        if sum(len(line) for line in traceback) > limit:
            output.traceback = [cap("\n".join(traceback))]
    data = output.get("data", {})
    # Cut HTML or an image would break the page: too big, they are left out.
    too_big = [m for m, value in data.items() if m != "text/plain" and len(str(value)) > limit]
    for mime in too_big:
        del data[mime]
    if "text/plain" in data:
        data["text/plain"] = cap(data["text/plain"])
    if too_big:
        note = f"[{', '.join(too_big)} left out: more than {limit:,} bytes]"
        data["text/plain"] = f"{data.get('text/plain', '')}\n{note}".lstrip("\n")


def _redact(output: NotebookNode, hidden: set[str]) -> None:
    def clean(text):
        if isinstance(text, list):
            text = "".join(text)
        lines = text.split("\n")
        return "\n".join(
            "[line of a hidden test]" if any(h in line for h in hidden) else line for line in lines
        )

    if "text" in output:
        output.text = clean(output.text)
    if "evalue" in output:
        output.evalue = clean(output.evalue)
        output.traceback = [clean(line) for line in output.get("traceback", [])]
    data = output.get("data", {})
    for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
        if mime in data:
            data[mime] = clean(data[mime])


class GradingSummary(NbGraderPreprocessor):
    """Insert a summary of the autograder's results as the first cell."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        path = Path(resources["metadata"]["path"]) / SIDECAR
        if path.is_file():
            info = json.loads(path.read_text())
            notebook = resources["nbgrader"]["notebook"] + ".ipynb"
            cells = [c for c in info["cells"] if c["notebook"] + ".ipynb" == notebook]
            summary = summary_markdown(notebook, cells, info.get("notes", []))
            nb.cells.insert(0, NotebookNode(cell_type="markdown", metadata={}, source=summary))
        return nb, resources


def summary_markdown(notebook: str, cells: list[dict], notes: list[str]) -> str:
    """The autograder's summary for one notebook: markdown around an escaped HTML table."""
    lines = [f"## Autograder results for {html.escape(notebook)}", "", _points_line(cells), ""]
    lines.append(_results_table(cells))
    if notes:
        lines += ["", "**Notes**", ""] + [f"- {html.escape(cap_text(n))}" for n in notes]
    return "\n".join(lines)


def _points_line(cells: list[dict]) -> str:
    auto = [c for c in cells if c["status"] != "manual"]
    earned = sum(c["score"] or 0 for c in auto)
    total = sum(c["max_score"] for c in auto)
    manual = sum(c["max_score"] for c in cells if c["status"] == "manual")
    more = f" {manual:g} more points are graded by hand." if manual else ""
    return f"**{earned:g} of {total:g} autograded points.**{more}"


def _results_table(cells: list[dict]) -> str:
    pad = ' style="padding: 2px 12px; text-align: left"'  # columns apart in any renderer
    rows = [f"<table><tr><th{pad}>test</th><th{pad}>points</th><th{pad}>result</th></tr>"]
    for cell in cells:
        if cell["status"] == "manual":
            continue
        result = cell["status"] + (f": {cap_text(cell['message'])}" if cell["message"] else "")
        rows.append(
            f"<tr><td{pad}>{html.escape(cell['grade_id'])}</td>"
            f"<td{pad}>{(cell['score'] or 0):g} / {cell['max_score']:g}</td>"
            f"<td{pad}>{html.escape(result)}</td></tr>"
        )
    return "\n".join(rows + ["</table>"])


class LocalMathJax(Preprocessor):
    """Make sure the course's feedback folder has its MathJax copy (`ensure_mathjax`),
    which feedback pages load by a relative URL (templates/feedback/mathjax.html.j2)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        ensure_mathjax(Path(coursedir.root) / coursedir.feedback_directory)
        return nb, resources


def ensure_mathjax(feedback: Path) -> Path:
    """`feedback`/.mathjax: a copy of the MathJax 2 that jupyter-server-mathjax ships
    (about 12 MB, once per course and version; written beside, then swapped in).
    Returns the folder."""
    import importlib.metadata
    import shutil
    import tempfile

    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    version = importlib.metadata.version("jupyter-server-mathjax")
    target = feedback / MATHJAX_FOLDER
    stamp = target / ".version"
    if stamp.is_file() and stamp.read_text() == version:
        return target
    feedback.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=feedback, prefix=f"{MATHJAX_FOLDER}.new-"))
    shutil.copytree(source, fresh, dirs_exist_ok=True)
    (fresh / ".version").write_text(version)
    fresh.chmod(0o755)
    old = target.with_name(f"{fresh.name}.old")
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def offline_config():
    """Config for the course's HTML pages (feedback, formgrader): nbgrader's templates,
    with this package's `mathjax.html.j2` before them, so MathJax comes from the course's
    copy (feedback) or the Jupyter server (formgrader), never from a CDN."""
    import nbgrader
    from traitlets.config import Config

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions/formgrader/templates"
    config = Config()
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]
    return config


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled Jinja templates kept in this process, under jinja's bucket key (the
    template's name and a checksum of its source)."""

    store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


class FeedbackExporter(HTMLExporter):
    """GenerateFeedback's exporter: nbconvert's HTMLExporter (all config given to
    HTMLExporter applies) whose templates compile once per process, not once per page
    (about 0.25 s of each feedback page)."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _MemoryBytecodeCache()
        return environment


def feedback_preprocessors() -> list:
    """GenerateFeedback's preprocessors: nbgrader's (GetGrades, then the CSS last), with
    the two above and the sanitizer (`sanitize.SanitizeNotebook`) between them."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from cs231n_lib.grading.sanitize import SanitizeNotebook

    return [GetGrades, HideHiddenTests, SanitizeNotebook, GradingSummary, CSSHTMLHeaderPreprocessor]


def missing_notebook_html(notebook: str, cells: list[dict], notes: list[str]) -> str:
    """Feedback for a notebook that could not be run (missing or unreadable)."""
    title = html.escape(notebook)
    items = "".join(f"<li>{html.escape(cap_text(note))}</li>" for note in notes)
    points = _points_line(cells).replace("**", "")
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>\n<h2>Autograder results for {title}</h2>\n<p>{points}</p>\n"
        f"{_results_table(cells)}\n<ul>{items}</ul>\n</body></html>\n"
    )


def read_sidecar(folder: Path) -> dict:
    """The grading record beside an autograded submission ({} if there is none)."""
    path = folder / SIDECAR
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def cell_rows(root: Path, db_url: str) -> list[dict]:
    """One row per submitted graded cell in the gradebook, with the autograder's status
    and message where the grading record has them."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(db_url) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                student = submission.student.id
                record = read_sidecar(root / "autograded" / student / assignment.name)
                outcome = {(c["notebook"], c["grade_id"]): c for c in record.get("cells", [])}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        seen = outcome.get((notebook.name, grade.name), {})
                        rows.append(
                            {
                                "assignment": assignment.name,
                                "notebook": notebook.name,
                                "grade_id": grade.name,
                                "student": student,
                                "score": grade.score,
                                "max_score": grade.max_score,
                                "needs_manual_grade": grade.needs_manual_grade,
                                "status": seen.get("status", ""),
                                "message": cap_text(seen.get("message") or ""),
                            }
                        )
    rows.sort(key=lambda r: (r["assignment"], r["student"]))  # stable: cell order kept
    return rows


def summarize_cells(rows: list[dict]) -> list[dict]:
    """The autograded cells, most often failed first: how many students lost points
    there, the mean score and the most common failure message."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["status"] == "manual":
            continue
        groups.setdefault((row["assignment"], row["notebook"], row["grade_id"]), []).append(row)
    summary = []
    for (assignment, notebook, grade_id), members in groups.items():
        failed = [r for r in members if (r["score"] or 0) < r["max_score"]]
        messages = Counter(r["message"] for r in failed if r["message"])
        summary.append(
            {
                "assignment": assignment,
                "notebook": notebook,
                "grade_id": grade_id,
                "max_score": members[0]["max_score"],
                "submissions": len(members),
                "failed": len(failed),
                "failed_fraction": round(len(failed) / len(members), 3),
                "mean_score": round(sum(r["score"] or 0 for r in members) / len(members), 3),
                "most_common_failure": messages.most_common(1)[0][0] if messages else "",
            }
        )
    summary.sort(
        key=lambda s: (-s["failed_fraction"], s["assignment"], s["notebook"], s["grade_id"])
    )
    return summary


def export_cell_csvs(root: Path, db_url: str) -> tuple[Path, Path, list[dict]]:
    """Write grades_by_cell.csv and grades_by_cell_summary.csv at the course root
    atomically; returns both paths and the summary rows."""
    rows = cell_rows(root, db_url)
    summary = summarize_cells(rows)
    by_cell = _write_csv(root / "grades_by_cell.csv", CELL_FIELDS, rows)
    by_test = _write_csv(root / "grades_by_cell_summary.csv", SUMMARY_FIELDS, summary)
    return by_cell, by_test, summary


def _write_csv(destination: Path, fields: list[str], rows: list[dict]) -> Path:
    partial = destination.with_name(f".{destination.name}.partial")
    with open(partial, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(csv_row(row) for row in rows)
    partial.replace(destination)
    return destination
