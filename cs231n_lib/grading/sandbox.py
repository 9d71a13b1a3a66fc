"""The sandbox that student code runs in while it is graded.

A submission's kernel runs under bubblewrap (`bwrap`, Debian package `bubblewrap`) with
its own mount, process and network namespaces. It sees the system and Python read-only,
its own scratch folder (mounted as /submission) and a small /tmp in memory read-write,
and nothing else of the instructor's disk: not solutions/, not the gradebook, not
other submissions. It has no network (not even loopback to the grader), an environment
with nothing of the instructor's, and resource limits set by `LIMITS_LAUNCHER` before
the kernel starts: address space (memory), size of any file it writes, no core dumps.

Without bwrap, grading still runs with the same resource limits and a scrubbed
environment, but student code has the instructor's rights: `SandboxInfo.warning` says so.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cs231n_lib.grading.limits import (
    DEFAULT_SANDBOX_MODE,
    SANDBOX_TMP_SIZE,
    Limits,
    check_sandbox_mode,
)

SUBMISSION_DIR = "/submission"  # where a kernel under bwrap sees its own folder

# Runs inside the sandbox: set the limits, send the kernel's own stdout/stderr (not the
# cells' output, which travels over ZMQ) to a log file, then become the kernel.
LIMITS_LAUNCHER = """\
import os, resource, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)  # see IGNORE_SIGINT
memory, file_size, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.execv(sys.argv[4], sys.argv[4:])
"""


# NOTE: the grader interrupts a kernel by sending SIGINT to its process group, which
# includes bwrap itself, and SIGINT ends bwrap and with it the sandbox. bwrap starts with
# SIGINT ignored (an ignored signal stays ignored across exec); LIMITS_LAUNCHER restores
# it for the kernel.
IGNORE_SIGINT = ["/bin/sh", "-c", 'trap "" INT; exec "$0" "$@"']


@dataclass(frozen=True)
class SandboxInfo:
    """Whether kernels on this machine run under bwrap, and why not if they don't."""

    bwrap: str  # path of a working bwrap, "" when kernels run unsandboxed
    reason: str = ""  # why there is no sandbox

    @property
    def active(self) -> bool:
        return bool(self.bwrap)

    @property
    def warning(self) -> str:
        if self.active:
            return ""
        return (
            f"WARNING: student code runs UNSANDBOXED ({self.reason}): it can read solutions/, "
            f"the gradebook and other submissions, and reach the network. Install bubblewrap "
            f"(apt-get install bubblewrap) to sandbox it."
        )


def _system_binds() -> list[str]:
    """Read-only views of the system: /usr, the usual /bin-style links, and the few
    files of /etc that Python, the dynamic linker and matplotlib read."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    etc = [
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "alternatives",
        "passwd", "group", "nsswitch.conf", "mime.types", "ssl",
    ]  # fmt: skip
    for name in etc:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_binds() -> list[str]:
    """Read-only views of this Python: the venv, its base installation, the course
    package (an editable install points into the course folder: bind only the package,
    never the folder, which holds solutions/) and the data directory."""
    import cs231n_lib
    from cs231n_lib.config import COURSE_ROOT, data_dir

    paths = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        str(Path(sys.executable).resolve().parent),
    ]
    paths.append(str(Path(cs231n_lib.__file__).resolve().parent))
    if data_dir().is_dir():
        paths.append(str(data_dir()))
    user_site = site.getusersitepackages()
    if user_site in sys.path and os.path.isdir(user_site):
        paths.append(user_site)
    secret = COURSE_ROOT.resolve() / "solutions"
    kept: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths}, key=len):
        if path.startswith("/usr/") or any(path.startswith(k + "/") for k in kept):
            continue
        if secret.is_relative_to(path):
            continue  # never show solutions/, even if Python lives in the course folder
        kept.append(path)
    args = []
    for path in kept:
        args += ["--ro-bind", path, path]
    # sys.prefix may be reached through a symlink (a venv under a linked home folder).
    for path in {sys.prefix, sys.base_prefix}:
        if os.path.realpath(path) != path and not path.startswith("/usr/"):
            args += ["--symlink", os.path.realpath(path), path]
    return args


def bwrap_arguments(work_dir: Path, kernel_dir: Path, env: dict[str, str]) -> list[str]:
    """bwrap's options for one kernel: namespaces, read-only system and Python, the
    submission's folder read-write at /submission, the kernel's connection folder
    read-write at its own path (the grader connects to its sockets there)."""
    args = ["--unshare-all", "--die-with-parent", "--clearenv"]
    args += _system_binds()
    # NOTE: the private /tmp comes before the Python binds, so a venv or course that lives
    # under /tmp (a CI checkout) is mounted on top of it instead of hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SANDBOX_TMP_SIZE), "--tmpfs", "/tmp"]
    args += _python_binds()
    args += ["--bind", str(kernel_dir), str(kernel_dir)]
    args += ["--bind", str(work_dir), SUBMISSION_DIR, "--chdir", SUBMISSION_DIR]
    args += ["--remount-ro", "/"]  # the sandbox's own root: writable only where bound so
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def kernel_env(home: str) -> dict[str, str]:
    """The whole environment of a student's kernel: nothing of the instructor's."""
    from cs231n_lib.config import data_dir

    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "CS231N_FAST": "1",  # autograding runs in fast mode
        "CS231N_DATA": str(data_dir()),
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "PYTHONDONTWRITEBYTECODE": "1",
        # N kernels graded at once share the cores: one BLAS thread each is fastest.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def kernel_command(
    command: list[str],
    limits: Limits,
    work_dir: Path,
    kernel_dir: Path,
    bwrap: str = "",
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start `command` (a kernel) sandboxed by
    bwrap (or only limited, when `bwrap` is "")."""
    home = "/tmp" if bwrap else str(kernel_dir / "home")
    env = kernel_env(home)
    launcher = [
        sys.executable, "-c", LIMITS_LAUNCHER,
        str(limits.memory), str(limits.max_file_size), str(kernel_dir / "kernel.log"),
    ]  # fmt: skip
    if not bwrap:
        Path(home).mkdir(parents=True, exist_ok=True)
        return launcher + command, env
    sandboxed = [*IGNORE_SIGINT, bwrap, *bwrap_arguments(work_dir, kernel_dir, env), "--"]
    return sandboxed + launcher + command, env


def detect_sandbox(mode: str = DEFAULT_SANDBOX_MODE) -> SandboxInfo:
    """Whether kernels run under bwrap in `mode`, on this machine.

    `mode`: "auto" uses bwrap if it works, "require" raises RuntimeError if not,
    "off" never uses it (and never probes). The probe runs once per process.
    """
    check_sandbox_mode(mode)
    if mode == "off":
        return SandboxInfo("", "turned off with --sandbox off")
    info = probe_bwrap()
    if mode == "require" and not info.active:
        raise RuntimeError(f"the sandbox is required but unavailable: {info.reason}")
    return info


@functools.cache
def probe_bwrap() -> SandboxInfo:
    """Find a working bwrap on this machine, once per process: the answer does not change
    while a grading run lasts (local workers get it from their bundle)."""
    found = shutil.which("bwrap")
    if not found:
        return SandboxInfo("", "bwrap is not installed")
    error = _probe(found)
    return SandboxInfo("", error) if error else SandboxInfo(found, "")


def _probe(bwrap: str) -> str:
    """'' if bwrap can start a process in fresh namespaces here, else why not."""
    args = [bwrap, "--unshare-all", "--die-with-parent", *_system_binds()]
    args += ["--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not run: {exc}"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bwrap fails on this machine: {detail}"
    return ""
