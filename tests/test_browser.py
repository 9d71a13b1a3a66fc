"""Browser tests: Debian's Chromium, driven by pytest-playwright, against a JupyterLab of
the test's own on a copy of the course (01_knn, one graded submission).

What a student and an instructor see: a release notebook's Run All stops at the expected
NotImplementedError; the solution notebook runs to the end; the k slider is a live control
that redraws its figure; the formgrader lists the graded submission, and the feedback that
its Generate Feedback button writes holds no hidden test. `make screenshots` runs this file
with CS231N_SCREENSHOTS=docs to refresh the README's pictures.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from browser_support import (
    ASSIGNMENT,
    ERROR_OUTPUTS,
    NOTEBOOK,
    STUDENT,
    chromium_launch_args,
    error_outputs,
    grade,
    hidden_test_lines,
    jupyter_lab,
    make_course,
    missing_browser,
    open_notebook,
    run_all,
    screenshot,
)

_missing = missing_browser()
if _missing:
    pytest.skip(f"browser tests skipped: {_missing}", allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

# One xdist worker runs them all: they share one course copy and one JupyterLab.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT = 120  # seconds for a Run All; the solution takes ~15 s in fast mode
# CDNs that feedback HTML might load MathJax from; offline, formulas then stay raw `$...$`.
CDN = re.compile(r"https?://(cdnjs|cdn\.jsdelivr|unpkg|cdn\.mathjax)", re.IGNORECASE)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, with Debian's Chromium instead of a download."""
    headless = browser_type_launch_args.get("headless", True)  # pytest --headed still works
    return {**browser_type_launch_args, **chromium_launch_args(), "headless": headless}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A laptop-sized window: what the screenshots show."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A copy of the course with alice's 01_knn submission graded by `cs231n grade`."""
    root = make_course(tmp_path_factory.mktemp("course"))
    grade(root)
    return root


@pytest.fixture(scope="session")
def lab(course, tmp_path_factory):
    """The base URL of a JupyterLab on the course copy (no token, its own settings)."""
    with jupyter_lab(course, tmp_path_factory.mktemp("jupyter")) as url:
        yield url


@pytest.fixture(scope="module")
def solved(browser, lab):
    """A page with the solution notebook after a Run All (shared by two tests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    open_notebook(page, lab, f"solutions/{ASSIGNMENT}/{NOTEBOOK}")
    run_all(page, RUN_TIMEOUT)
    yield page
    page.close()


def _notebooks(course) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(solution, release) notebooks of the course copy."""
    read = nbformat.read
    return (
        read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4),
        read(course / "assignments" / ASSIGNMENT / NOTEBOOK, as_version=4),
    )


def _points(notebook: nbformat.NotebookNode, autograded: bool = False) -> float:
    """Points of the graded cells; autograded=True: only test cells (no written answers),
    which is what a full-marks submission scores before grading by hand."""
    total = 0.0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not (autograded and meta.get("solution")):
            total += float(meta.get("points", 0))
    return total


def test_release_run_all_stops_at_not_implemented(page, lab):
    open_notebook(page, lab, f"assignments/{ASSIGNMENT}/{NOTEBOOK}")
    run_all(page, RUN_TIMEOUT)
    errors = error_outputs(page)
    assert errors, "Run All on the release notebook showed no error; expected NotImplementedError"
    others = [e[-300:] for e in errors if "NotImplementedError" not in e]
    assert not others, f"error outputs other than NotImplementedError: {others}"
    page.locator(ERROR_OUTPUTS).first.scroll_into_view_if_needed()
    screenshot(page, "release_run_all")


def test_solution_runs_without_errors(solved):
    prompts = solved.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    unrun = [i for i, text in enumerate(prompts) if not re.search(r"\[\d+\]", text)]
    assert prompts and not unrun, f"code cells {unrun} of {len(prompts)} did not run"
    errors = error_outputs(solved)
    assert not errors, f"the solution notebook showed error outputs: {[e[-300:] for e in errors]}"


def test_k_slider_redraws_the_figure(solved):
    slider = solved.locator(".widget-slider").first
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle")
    figure = solved.locator(".widget-output img").first
    before = figure.get_attribute("src")
    assert before and before.startswith("data:image/png"), "the k widget shows no figure"
    handle.focus()
    for _ in range(4):
        handle.press("ArrowRight")
    # The readout follows the handle at once; the figure comes back from the kernel.
    readout = slider.locator(".widget-readout").inner_text().strip()
    assert readout == "5", f"after 4 steps right from k = 1 the slider reads {readout!r}"
    deadline = time.monotonic() + 30
    while figure.get_attribute("src") == before and time.monotonic() < deadline:
        solved.wait_for_timeout(200)
    assert figure.get_attribute("src") != before, "moving the k slider did not redraw the figure"
    screenshot(solved, "widget_k_slider")


def test_formgrader_lists_graded_submission(page, lab, course):
    page.goto(f"{lab}/formgrader/manage_submissions/{ASSIGNMENT}")
    row = page.locator("tr", has_text=STUDENT)
    row.wait_for(timeout=30_000)
    solution, _ = _notebooks(course)
    expected = f"{_points(solution, autograded=True):g} / {_points(solution):g}"
    assert expected in row.inner_text(), f"expected {expected} in alice's row: {row.inner_text()!r}"
    screenshot(page, "formgrader_submissions", clip={"x": 0, "y": 0, "width": 1280, "height": 400})


def test_generated_feedback_shows_no_hidden_test(page, lab, course):
    feedback = course / "feedback" / STUDENT / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
    assert feedback.is_file(), f"cs231n grade wrote no {feedback}"
    feedback.unlink()  # so the file checked below is the one the button writes
    page.goto(f"{lab}/formgrader/manage_submissions/{ASSIGNMENT}")
    row = page.locator("tr", has_text=STUDENT)
    row.wait_for(timeout=30_000)
    # The formgrader's button runs nbgrader's generate_feedback with the course's settings.
    row.locator(".generate-feedback a").click()
    deadline = time.monotonic() + 60
    while not feedback.is_file() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert feedback.is_file(), "Generate Feedback wrote no feedback file"
    page.goto(f"{lab}/files/{feedback.relative_to(course)}")
    text = page.inner_text("body")
    solution, release = _notebooks(course)
    hidden = hidden_test_lines(solution, release)
    assert hidden, "found no hidden-test lines to look for in the solution notebook"
    leaked = [line for line in hidden if line in text] + ["BEGIN HIDDEN"] * ("BEGIN HIDDEN" in text)
    assert not leaked, f"the feedback shows hidden tests: {leaked[:5]}"
    assert "Autograder results" in text, "the feedback lost the course's summary table"


def test_feedback_renders_formulas_offline(page, course):
    feedback = course / "feedback" / STUDENT / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
    cdn = CDN.search(feedback.read_text())
    if cdn:
        pytest.skip(
            f"feedback HTML loads MathJax from a CDN ({cdn.group(0)}...), which an offline "
            "machine cannot reach; this test runs once feedback serves MathJax locally"
        )
    # The file as a student gets it, opened from disk with no network.
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(feedback.as_uri())
    typeset = page.locator(".MathJax, .MathJax_CHTML, mjx-container")
    try:
        typeset.first.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        pytest.fail(f"no formula typeset in {feedback.name} after 30 s: is MathJax beside it?")
    screenshot(page, "feedback")
