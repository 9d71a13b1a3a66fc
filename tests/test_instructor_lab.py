"""The instructor's path: nbgrader's own feedback (the command, the formgrader's button)
hides hidden tests and keeps the summary, as `cs231n grade` does; feedback and the
formgrader load MathJax locally; `cs231n lab` shows no exchange lists and asks no news."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from cs231n_lib.cli import main
from cs231n_lib.grading.feedback import strip_hidden_region

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def hidden_lines(solution: Path, release: Path) -> set[str]:
    """The stripped lines of the hidden-test regions of the `solution` notebook that no
    text of the `release` notebook contains and are long enough to be secret (not ")")."""
    lines = set()
    for cell in nbformat.read(solution, as_version=4).cells:
        shown = set(strip_hidden_region(cell.source).splitlines())
        lines |= {line.strip() for line in cell.source.splitlines() if line not in shown}
    shown = "\n".join(cell.source for cell in nbformat.read(release, as_version=4).cells)
    return {line for line in lines if len(line) >= 12 and line not in shown} - {""}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and dict(attrs).get("src"):
            self.sources.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def read_page(page: str) -> tuple[str, list[str]]:
    """An HTML page's text (highlighted code joined back into lines) and the src of
    every <script>."""
    parser = _Page()
    parser.feed(page)
    return "".join(parser.text), parser.sources


def test_strip_hidden_region():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert secret()\n### END HIDDEN TESTS\nb = 2"
    assert strip_hidden_region(source) == "a = 1\nb = 2"
    assert strip_hidden_region("x\n### BEGIN HIDDEN TESTS\nnever ends") == "x"


def _generate_feedback(course: Path, assignment: str) -> None:
    """nbgrader's own command, as the formgrader's Generate Feedback button runs it."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        ["nbgrader", "generate_feedback", assignment, "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def graded_knn(tmp_path_factory) -> Path:
    """A scratch course with 01_knn, alice's submission (the solution) graded by
    `cs231n grade`."""
    root = tmp_path_factory.mktemp("course") / "course"
    (root / "assignments").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / "01_knn", root / "solutions" / "01_knn")
    shutil.copytree(REPO / "assignments" / "01_knn", root / "assignments" / "01_knn")
    submitted = root / "submitted" / "alice" / "01_knn"
    shutil.copytree(REPO / "solutions" / "01_knn", submitted)
    assert main(["--course", str(root), "grade", "01_knn"]) == 0
    return root


@pytest.mark.slow
def test_nbgrader_generate_feedback_hides_hidden_tests(graded_knn):
    page_path = graded_knn / "feedback" / "alice" / "01_knn" / "knn.html"
    by_grader = page_path.read_text()
    _generate_feedback(graded_knn, "01_knn")
    page, _ = read_page(page_path.read_text())
    secrets = hidden_lines(
        graded_knn / "solutions" / "01_knn" / "knn.ipynb",
        graded_knn / "assignments" / "01_knn" / "knn.ipynb",
    )
    assert secrets, "01_knn should have hidden tests to hide"
    assert "BEGIN HIDDEN TESTS" not in page
    leaked = [line for line in secrets if line in page]
    assert not leaked, f"hidden-test lines in nbgrader's feedback: {leaked[:3]}"
    assert "Autograder results for knn.ipynb" in page
    assert "autograded points" in page and "result" in page
    assert "<table>" in page_path.read_text()
    assert "Autograder results for knn.ipynb" in by_grader
    assert_offline_scripts(page_path)


def assert_offline_scripts(page_path: Path) -> None:
    """Every <script src> of the feedback page at `page_path` is a file beside it, MathJax
    among them: formulas render from disk, offline."""
    _, sources = read_page(page_path.read_text())
    online = [src for src in sources if urllib.parse.urlsplit(src).scheme]
    assert not online, f"feedback loads scripts from the network: {online}"
    mathjax = [src for src in sources if "MathJax.js" in src]
    assert mathjax, f"feedback loads no MathJax: {sources}"
    for src in sources:
        local = (page_path.parent / urllib.parse.urlsplit(src).path).resolve()
        assert local.is_file(), f"{src} of {page_path.name}: no file {local}"
    config = urllib.parse.parse_qs(urllib.parse.urlsplit(mathjax[0]).query)["config"][0]
    folder = (page_path.parent / urllib.parse.urlsplit(mathjax[0]).path).parent
    for name in config.split(","):
        assert (folder / "config" / f"{name}.js").is_file(), f"MathJax config {name} missing"


def test_release_missing_cuts_hidden_regions(demo_course):
    """Without a release notebook to show, hidden-test regions are cut out all the same."""
    assert main(["--course", str(demo_course), "release"]) == 0
    submitted = demo_course / "submitted" / "alice" / "00_demo"
    submitted.mkdir(parents=True)
    shutil.copy(demo_course / "solutions" / "00_demo" / "demo.ipynb", submitted)
    assert main(["--course", str(demo_course), "grade", "00_demo"]) == 0
    shutil.rmtree(demo_course / "assignments" / "00_demo")
    _generate_feedback(demo_course, "00_demo")
    page, _ = read_page((demo_course / "feedback" / "alice" / "00_demo" / "demo.html").read_text())
    assert "double(3) == 6" in page, "the visible test should be shown"
    assert "HIDDEN TESTS" not in page and "double(-1.5)" not in page
    assert "Autograder results for demo.ipynb" in page
    assert_offline_scripts(demo_course / "feedback" / "alice" / "00_demo" / "demo.html")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.mark.slow
def test_lab_is_quiet_without_an_exchange(demo_course, tmp_path):
    """`cs231n lab`: no exchange lists (server or lab side), no news; formgrader kept."""
    assert main(["--course", str(demo_course), "release"]) == 0
    submitted = demo_course / "submitted" / "alice" / "00_demo"
    submitted.mkdir(parents=True)
    shutil.copy(demo_course / "solutions" / "00_demo" / "demo.ipynb", submitted)
    assert main(["--course", str(demo_course), "grade", "00_demo"]) == 0
    with Gradebook(f"sqlite:///{demo_course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook("demo", "00_demo", "alice").id
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
    args = [str(BIN / "cs231n"), "--course", str(demo_course), "lab", "--no-browser"]
    args += [f"--port={port}", "--IdentityProvider.token=t", "--ServerApp.ip=127.0.0.1"]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, page = time.monotonic() + 90, None
        while time.monotonic() < deadline and page is None:
            try:
                page = _get(f"{base}/lab?token=t")[1]
            except OSError:
                assert server.poll() is None, "cs231n lab exited early"
                time.sleep(0.5)
        assert page, "JupyterLab did not answer within 90 s"
        assert '"news": {"disabled": true}' in page
        for plugin in ("@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"):
            assert f'"{plugin}"' in page.split("disabledExtensions", 1)[1][:300]
        assert _get(f"{base}/assignments?token=t")[0] == 404, "assignment list still served"
        assert _get(f"{base}/courses?token=t")[0] == 404, "course list still served"
        assert _get(f"{base}/formgrader?token=t")[0] == 200, "the formgrader must stay"
        page_url = f"{base}/formgrader/submissions/{submission}/"
        status, page = _get(f"{page_url}?token=t")
        assert status == 200, f"the formgrader's page of alice's notebook: {status}"
        _, sources = read_page(page)
        assert not [src for src in sources if urllib.parse.urlsplit(src).scheme], sources
        mathjax = [src for src in sources if "MathJax.js" in src]
        assert mathjax, f"the formgrader's page loads no MathJax: {sources}"
        url = urllib.parse.urljoin(page_url, mathjax[0])
        assert _get(f"{url}&token=t")[0] == 200, f"MathJax not served at {url}"
    finally:
        server.terminate()
        server.wait(timeout=30)
