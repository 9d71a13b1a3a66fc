"""The sandbox's command line and detection, and grading limits on a tiny course."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.cli import main
from cs231n_lib.grading import course, limits, sandbox

REPO = Path(__file__).resolve().parents[1]


def test_bwrap_never_shows_the_course_folder(tmp_path):
    args, env = sandbox.kernel_command(
        ["python", "-m", "ipykernel_launcher"],
        limits.DEFAULT_LIMITS,
        tmp_path / "work",
        tmp_path / "kernel",
        bwrap="/usr/bin/bwrap",
    )
    binds = [args[i + 1] for i, a in enumerate(args) if a in {"--bind", "--ro-bind"}]
    secret = REPO / "solutions"
    shown = [b for b in binds if secret.is_relative_to(b)]
    assert not shown, f"these binds expose {secret}: {shown}"
    assert {"--unshare-all", "--die-with-parent", "--clearenv", "--new-session"} <= set(args)
    assert {"--unshare-user", "--disable-userns"} <= set(args)
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert args[args.index("--uid") + 1] == args[args.index("--gid") + 1] == str(limits.SANDBOX_UID)
    tmpfs = {args[i + 1]: args[i - 1] for i, a in enumerate(args) if a == "--tmpfs"}
    assert set(tmpfs) == {"/tmp", "/dev/shm", sandbox.SUBMISSION_DIR}, tmpfs
    assert int(tmpfs["/dev/shm"]) == limits.SANDBOX_SHM_SIZE
    assert int(tmpfs[sandbox.SUBMISSION_DIR]) == limits.SANDBOX_SUBMISSION_ROOM  # no files yet
    assert args[args.index("--chdir") + 1] == sandbox.SUBMISSION_DIR
    assert env["CS231N_FAST"] == "1" and "JPY_PARENT_PID" not in env


def test_missing_bwrap_is_said_loudly(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    sandbox.probe_bwrap.cache_clear()
    try:
        info = sandbox.detect_sandbox("auto")
        assert not info.active and "UNSANDBOXED (bwrap is not installed)" in info.warning
        assert "apt-get install bubblewrap" in info.warning
        for weaker in ("write to the venv", "no total limit", "can outlive grading"):
            assert weaker in info.warning, f"{weaker!r} not in {info.warning!r}"
        with pytest.raises(RuntimeError, match="required but unavailable: bwrap is not installed"):
            sandbox.detect_sandbox("require")
    finally:
        sandbox.probe_bwrap.cache_clear()


def test_sandbox_is_probed_once_per_process(monkeypatch):
    probes = []
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "_probe", lambda bwrap: probes.append(bwrap) or "")
    sandbox.probe_bwrap.cache_clear()
    try:
        for mode in ("auto", "require", "off", "auto"):
            sandbox.detect_sandbox(mode)
    finally:
        sandbox.probe_bwrap.cache_clear()
    assert probes == ["/usr/bin/bwrap"]


@pytest.mark.slow
def test_worker_uses_the_sandbox_its_bundle_carries(demo_course, monkeypatch):
    from cs231n_lib.grading.intake import Submission
    from cs231n_lib.grading.scale import make_bundle
    from cs231n_lib.grading.worker import grade_submission

    given = sandbox.SandboxInfo("", "found once by the command")
    bundle = make_bundle(demo_course, "00_demo", sandbox_info=given)

    def no_probe():
        raise AssertionError("a worker with the machine's sandbox in its bundle probed again")

    monkeypatch.setattr(sandbox, "probe_bwrap", no_probe)
    solution = (demo_course / "solutions" / "00_demo" / "demo.ipynb").read_bytes()
    result = grade_submission(Submission("alice", {"demo.ipynb": solution}), bundle)
    assert result.success, result.error
    assert (result.sandboxed, result.sandbox_reason) == (False, given.reason)
    assert {c.grade_id: c.score for c in result.cells} == {"test_double": 2, "test_square": 3}


def test_grade_require_without_bwrap_is_bad_input(demo_course, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    sandbox.probe_bwrap.cache_clear()
    try:
        status = main(["--course", str(demo_course), "grade", "00_demo", "--sandbox", "require"])
    finally:
        sandbox.probe_bwrap.cache_clear()
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert "the sandbox is required but unavailable" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--jobs", "0"], "--jobs 0 must be at least 1"),
        (["--cell-timeout", "0"], "--cell-timeout 0 must be at least 1"),
        (["--memory-limit", "lots"], "size 'lots' is not understood"),
        (["--from", "no/such/folder"], "--from no/such/folder: no such folder"),
        (["--from", ".", "--id-pattern", "(?P<id>.*)"], "has no group named 'student'"),
    ],
)
def test_grade_bad_options_one_line_error(demo_course, capsys, options, message):
    assert main(["--course", str(demo_course), "grade", "00_demo", *options]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.skipif(not sandbox.detect_sandbox("auto").active, reason="bubblewrap is unavailable")
def test_probe_runs_a_process_in_the_sandbox():
    assert sandbox._probe(sandbox.detect_sandbox("auto").bwrap) == ""


def _submit(root: Path, student: str, nb) -> None:
    folder = root / "submitted" / student / "00_demo"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "demo.ipynb")


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_notebook_time_limit_unsandboxed(demo_course):
    """A notebook past its wall-clock limit is stopped: cells before keep their points,
    later cells score 0 with the reason; --sandbox off says so loudly."""
    assert main(["--course", str(demo_course), "release"]) == 0
    solution = nbformat.read(demo_course / "solutions" / "00_demo" / "demo.ipynb", as_version=4)
    slow = nbformat.read(demo_course / "solutions" / "00_demo" / "demo.ipynb", as_version=4)
    slow.cells.insert(4, nbformat.v4.new_code_cell("import time\ntime.sleep(120)"))
    _submit(demo_course, "quick", solution)
    _submit(demo_course, "slow", slow)
    status, out, err = _run(
        "--course", str(demo_course), "grade", "00_demo", "--jobs", "2", "--sandbox", "off",
        "--notebook-timeout", "20", "--cell-timeout", "200",
    )  # fmt: skip
    assert status == 0, out + err
    assert "UNSANDBOXED (turned off with --sandbox off)" in out + err
    assert "quick: 5/5" in out
    assert "slow: 2/5" in out and "the notebook ran longer than its limit of 20 s" in out
    scores = course.read_scores(course.default_db_url(demo_course), "00_demo", "slow")
    assert {c.grade_id: c.score for c in scores} == {"test_double": 2.0, "test_square": 0.0}


@pytest.mark.slow
def test_grade_from_an_lms_export(demo_course, tmp_path):
    assert main(["--course", str(demo_course), "release"]) == 0
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(demo_course / "solutions" / "00_demo" / "demo.ipynb", export / "alice_demo.ipynb")
    shutil.copy(demo_course / "assignments" / "00_demo" / "demo.ipynb", export / "bob.ipynb")
    (export / "carol.zip").write_bytes(b"PK broken")
    status, out, err = _run("--course", str(demo_course), "grade", "00_demo", "--from", str(export))
    assert status == 1, out + err  # carol's file could not be read
    assert "alice: 5/5" in out and "bob: 0/5" in out
    assert "intake: carol: carol.zip is not a readable zip file" in out
    assert (demo_course / "submitted" / "alice" / "00_demo" / "demo.ipynb").is_file()
    assert (demo_course / "feedback" / "bob" / "00_demo" / "demo.html").is_file()
