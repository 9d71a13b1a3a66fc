"""What the browser tests share: a course copy, a JupyterLab of its own, page helpers.

The tests drive Debian's Chromium (`apt-get install chromium`) through Playwright; Playwright's
own browser download is never used. `CS231N_SCREENSHOTS=DIR` (set by `make screenshots`)
saves the pictures the README shows into DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ASSIGNMENT = "01_knn"
NOTEBOOK = "knn.ipynb"
STUDENT = "alice"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

# JupyterLab user settings for the test's own config dir: no news or update pop-up over the
# page, and every cell kept in the DOM (windowing would drop cells scrolled out of view).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (a sentence saying how to fix it), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]' (pytest-playwright)"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)"
    return None


def chromium_launch_args() -> dict:
    """Playwright launch options for Debian's Chromium; --no-sandbox when running as root."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return {"executable_path": str(CHROMIUM), "args": args, "headless": True}


def student_submission(release: nbformat.NotebookNode, solution: nbformat.NotebookNode):
    """The release notebook with each solution cell filled in as a student would: the
    solution's code without nbgrader's markers, every other cell and all metadata as
    released. Both notebooks have the same cells in the same order."""
    solved = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in solution.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    submission = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in submission.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in solved:
            lines = solved[grade_id].splitlines()
            cell.source = "\n".join(x for x in lines if x.strip() not in SOLUTION_MARKERS)
    return submission


def hidden_test_lines(solution: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list:
    """Lines (stripped, 12 characters or more) of the solution's hidden tests that appear
    nowhere else, not even inside a longer line, in the release or in the solution outside
    its hidden tests (a submission's own code): a page that shows one of them leaks."""
    hidden, visible, inside = [], [cell.source for cell in release.cells], False
    for cell in solution.cells:
        for line in cell.source.splitlines():
            text = line.strip()
            if text in (HIDDEN_BEGIN, HIDDEN_END):
                inside = text == HIDDEN_BEGIN
            elif inside:
                hidden.append(text)
            else:
                visible.append(line)
    elsewhere = "\n".join(visible)
    return sorted({t for t in hidden if len(t) >= 12 and t not in elsewhere})


def make_course(root: Path) -> Path:
    """A copy of the course at `root` with only 01_knn and alice's submission of its
    solution, so nothing in the repository changes. Returns `root`."""
    for folder in ("solutions", "assignments"):
        shutil.copytree(REPO / folder / ASSIGNMENT, root / folder / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    release = nbformat.read(root / "assignments" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution = nbformat.read(root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    submitted = root / "submitted" / STUDENT / ASSIGNMENT
    submitted.mkdir(parents=True)
    nbformat.write(student_submission(release, solution), submitted / NOTEBOOK)
    return root


def tool_env(**extra: str) -> dict:
    """The environment for the course's commands: this venv first on PATH (the kernel spec
    runs `python`, nbgrader runs `alembic`), fast mode, and `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CS231N_FAST"] = "1"
    env.update(extra)
    return env


def grade(root: Path, timeout: float = 300) -> None:
    """Autograde the course copy with `cs231n grade`; raise with its output if it fails."""
    command = [sys.executable, "-m", "cs231n_lib.cli", "--course", str(root), "grade", ASSIGNMENT]
    done = subprocess.run(
        command, cwd=root, env=tool_env(), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"cs231n grade exited {done.returncode}:\n{done.stdout}{done.stderr}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_lab_settings(config_dir: Path) -> None:
    """JupyterLab's user settings (LAB_SETTINGS) under a fresh JUPYTER_CONFIG_DIR."""
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = config_dir / "lab" / "user-settings" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll the server's /api/status until it answers; raise with its log if it dies or
    stays silent for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not answer at {url} in {timeout:.0f} s:\n{log.read_text()}")


@contextmanager
def jupyter_lab(root: Path, home: Path, timeout: float = 60) -> Iterator[str]:
    """Run JupyterLab on `root` (cwd and root dir: the formgrader reads nbgrader_config.py
    there) without token or password, its config, data and runtime dirs under `home` so
    no user setting leaks in. Yields the base URL; stops the server on exit."""
    env = tool_env(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    _write_lab_settings(home / "config")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "jupyter.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_up(url, process, log, timeout)
        yield url
    finally:
        # The server's kernels are in its session: end them with it.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- page helpers -----------------------------------------------------------------------

CODE_CELLS = ".jp-Notebook .jp-CodeCell"
ERROR_OUTPUTS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def open_notebook(page, url: str, path: str, timeout: float = 60) -> None:
    """Open `path` (relative to the lab's root) in JupyterLab and wait for an idle kernel.
    `?reset`: a fresh workspace, else the tabs of an earlier page open again beside it."""
    page.goto(f"{url}/lab/tree/{path}?reset")
    page.locator(CODE_CELLS).first.wait_for(timeout=timeout * 1000)
    wait_for_idle_kernel(page, timeout)


def wait_for_idle_kernel(page, timeout: float) -> None:
    """Wait until the status bar says the notebook's kernel is idle ("Python 3 | Idle").

    NOTE: the toolbar's execution indicator reads idle before a kernel exists; a Run All
    clicked then does nothing."""
    page.wait_for_function(
        """() => {
            const bar = document.querySelector('.jp-StatusBar-Widget');
            const text = bar ? bar.innerText : '';
            return /\\| Idle/.test(text) && !text.includes('No Kernel');
        }""",
        polling=250,
        timeout=timeout * 1000,
    )


def run_all(page, timeout: float) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel
    is idle: a run that stops at an error leaves the cells after it unrun."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            const started = prompts.some(p => /\\[\\d+\\]/.test(p.textContent));
            return started && !prompts.some(p => p.textContent.includes('*'));
        }""",
        polling=250,
        timeout=timeout * 1000,
    )
    wait_for_idle_kernel(page, timeout)


def error_outputs(page) -> list[str]:
    """The text of every error output on the page (tracebacks; stderr streams too)."""
    return [text.strip() for text in page.locator(ERROR_OUTPUTS).all_inner_texts()]


def screenshot(page, name: str, **options) -> None:
    """Save the page as DIR/name.png when CS231N_SCREENSHOTS=DIR is set; else nothing."""
    folder = os.environ.get("CS231N_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), **options)
