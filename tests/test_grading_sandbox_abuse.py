"""Hostile submissions against the sandbox: privileges, totals, daemons (run as root in CI).

Each abusive student's notebook is the demo solution with one abuse cell between
test_double and square. A submission stopped by the grader keeps test_double's points
and scores 0 on test_square with the reason; one whose abuse only fails inside it is
graded as usual; an honest student graded alongside gets full marks.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.cli import main
from cs231n_lib.grading import course, limits, sandbox

SANDBOXED = sandbox.detect_sandbox("auto").active
NEEDS_BWRAP = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is unavailable")
DAEMON = "cs231n-abuse-daemon"  # in the daemon's command line, to find it after grading

PRIVILEGES = """\
import os, subprocess, sys, cs231n_lib
cap = [line.split()[1] for line in open('/proc/self/status') if line.startswith('CapEff')][0]
remount = subprocess.run(['mount', '-o', 'remount,rw', sys.prefix], capture_output=True)
written = []
for folder in (sys.prefix, os.path.dirname(cs231n_lib.__file__), os.environ['CS231N_DATA']):
    try:
        with open(os.path.join(folder, 'pwned.txt'), 'w') as f:
            f.write('x')
        written.append(folder)
    except OSError:
        pass
print('PRIV', cap, remount.returncode, os.getuid(), written)
"""

DISK = """\
written = 0
try:
    for i in range(16):
        with open(f'/submission/fill{i}', 'wb') as f:
            for _ in range(50):
                f.write(b'x' * 2**20)
                f.flush()
                written += 2**20
except OSError:
    pass
print('WROTE', written)
"""

SHM = """\
written = 0
try:
    with open('/dev/shm/fill', 'wb') as f:
        for _ in range(500):
            f.write(b'x' * 2**20)
            f.flush()
            written += 2**20
except OSError:
    pass
print('WROTE', written)
"""

MEMORY = """\
import subprocess, sys, time
hold = "import time; b = b'x' * (900 * 2**20); time.sleep(120)"
holders = [subprocess.Popen([sys.executable, '-c', hold]) for _ in range(3)]
time.sleep(60)
"""

FORK_LOOP = """\
import os, time
forked = 0
try:
    while forked < 5000:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
except OSError:
    pass
print('FORKED', forked)
time.sleep(5)
"""

DAEMON_CELL = f"""\
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', '{DAEMON}'])
    os._exit(0)
os.wait()
"""


def _solution(root: Path):
    return nbformat.read(root / "solutions" / "00_demo" / "demo.ipynb", as_version=4)


def _submit(root: Path, student: str, abuse: str | None) -> None:
    nb = _solution(root)
    if abuse is not None:
        nb.cells.insert(4, nbformat.v4.new_code_cell(abuse))
    folder = root / "submitted" / student / "00_demo"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "demo.ipynb")


def _grade(root: Path, *options: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(["--course", str(root), "grade", "00_demo", "--jobs", "2", *options])
    return status, out.getvalue()


def _scores(root: Path, student: str) -> dict[str, float]:
    found = course.read_scores(course.default_db_url(root), "00_demo", student)
    return {c.grade_id: c.score for c in found}


def _printed(root: Path, student: str) -> str:
    path = root / "autograded" / student / "00_demo" / "demo.ipynb"
    outputs = nbformat.read(path, as_version=4).cells[4].get("outputs", [])
    return "".join(o.get("text", "") for o in outputs)


def _daemons() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        try:
            if DAEMON.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def abused(tmp_path_factory):
    """The demo course graded under bwrap with one honest and six abusive students."""
    from conftest import demo_notebook

    root = tmp_path_factory.mktemp("abuse") / "course"
    (root / "solutions" / "00_demo").mkdir(parents=True)
    (root / "assignments").mkdir()
    repo = Path(__file__).resolve().parents[1]
    (root / "nbgrader_config.py").write_text((repo / "nbgrader_config.py").read_text())
    nbformat.write(demo_notebook(), root / "solutions" / "00_demo" / "demo.ipynb")
    assert main(["--course", str(root), "release"]) == 0
    students = {
        "honest": None, "privileges": PRIVILEGES, "disk": DISK, "shm": SHM,
        "memory": MEMORY, "fork_loop": FORK_LOOP, "daemon": DAEMON_CELL,
    }  # fmt: skip
    for student, abuse in students.items():
        _submit(root, student, abuse)
    status, out = _grade(root, "--sandbox", "require", "--memory-limit", "2G")
    return root, status, out


@NEEDS_BWRAP
def test_honest_student_unaffected(abused):
    root, status, out = abused
    assert "honest: 5/5" in out, out
    assert _scores(root, "honest") == {"test_double": 2, "test_square": 3}


@NEEDS_BWRAP
def test_no_capabilities_no_remount_no_writes(abused):
    root, _, out = abused
    words = _printed(root, "privileges").split()
    assert words[:2] == ["PRIV", "0000000000000000"], words  # CapEff inside
    assert words[2] != "0", "mount -o remount,rw of the venv succeeded"
    assert words[3] == str(limits.SANDBOX_UID) and words[4] == "[]", words
    import sys

    import cs231n_lib
    from cs231n_lib.config import data_dir

    for folder in (Path(sys.prefix), Path(cs231n_lib.__file__).parent, data_dir()):
        assert not (folder / "pwned.txt").exists(), f"the sandbox wrote to {folder}"
    assert "privileges: 5/5" in out


@NEEDS_BWRAP
@pytest.mark.parametrize(
    ("student", "cap"),
    [("disk", limits.SANDBOX_SUBMISSION_ROOM), ("shm", limits.SANDBOX_SHM_SIZE)],
)
def test_writes_stop_at_the_cap(abused, student, cap):
    root, _, out = abused
    written = int(_printed(root, student).split()[1])
    assert cap - 60 * 2**20 <= written <= cap + 2**20, f"{student} wrote {written} bytes"
    assert f"{student}: 5/5" in out, out


@NEEDS_BWRAP
def test_memory_across_processes_is_bounded(abused):
    root, _, out = abused
    assert _scores(root, "memory") == {"test_double": 2, "test_square": 0}
    assert "more than 2,048 MiB of memory in all its processes" in out, out


@NEEDS_BWRAP
def test_fork_loop_is_bounded(abused):
    root, _, out = abused
    if os.geteuid() == 0:  # RLIMIT_NPROC does not hold for root: the watchdog stops it
        assert _scores(root, "fork_loop") == {"test_double": 2, "test_square": 0}
        assert f"more than {limits.SANDBOX_MAX_PROCESSES} processes" in out, out
    else:
        assert int(_printed(root, "fork_loop").split()[1]) < limits.SANDBOX_MAX_PROCESSES
        assert "fork_loop: 5/5" in out, out


@NEEDS_BWRAP
def test_daemon_ends_with_its_submission_under_bwrap(abused):
    root, _, out = abused
    assert "daemon: 5/5" in out, out
    assert _daemons() == [], "a daemon of student code outlived grading"


@pytest.mark.slow
def test_daemon_ends_with_its_submission_unsandboxed(demo_course):
    assert main(["--course", str(demo_course), "release"]) == 0
    _submit(demo_course, "daemon", DAEMON_CELL)
    status, out = _grade(demo_course, "--sandbox", "off")
    assert status == 0 and "daemon: 5/5" in out, out
    assert "outlive grading" in out  # the warning says this is weaker without bwrap
    assert _daemons() == [], "a daemon of student code outlived grading"
