"""The sandbox that student code runs in while it is graded.

A submission's kernel runs under bubblewrap (`bwrap`, Debian package `bubblewrap`) with
its own user, mount, process and network namespaces and a new session. Inside it is uid
and gid SANDBOX_UID with no capabilities and no new privileges, whether the grader runs
as root or not, and it cannot make further user namespaces. It sees the system and Python
read-only, a copy of its files in a size-capped /submission, a small /tmp and /dev/shm in
memory, and nothing else of the instructor's disk: not solutions/, not the gradebook, not
other submissions. It has no network (not even loopback to the grader), an environment
with nothing of the instructor's, and resource limits set by `LIMITS_LAUNCHER` before
the kernel starts: address space (memory), size of any file it writes, processes, no core
dumps. Every process of the submission ends with its process namespace.

Without bwrap, grading still runs with the same per-process limits and a scrubbed
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
    SANDBOX_MAX_PROCESSES,
    SANDBOX_SHM_SIZE,
    SANDBOX_SUBMISSION_ROOM,
    SANDBOX_TMP_SIZE,
    SANDBOX_UID,
    Limits,
    check_sandbox_mode,
)

SUBMISSION_DIR = "/submission"  # where a kernel under bwrap sees its own folder (a tmpfs)
SUBMISSION_SOURCE = "/.submission"  # the files copied into it, bound read-only

# Runs inside the sandbox: copy the submission's files into /submission, set the limits,
# send the kernel's own stdout/stderr (not the cells' output, which travels over ZMQ) to a
# log file, then become the kernel. Without bwrap ("supervise") it stays as the kernel's
# parent instead: a child subreaper, so that a daemon of student code (double fork, setsid)
# stays its descendant, and once the kernel ends it kills every process left.
LIMITS_LAUNCHER = """\
import ctypes, os, resource, shutil, signal, sys
memory, file_size, processes = (int(a) for a in sys.argv[1:4])
log, source, supervise, command = sys.argv[4], sys.argv[5], sys.argv[6] == "1", sys.argv[7:]
if source:
    shutil.copytree(source, ".", dirs_exist_ok=True)
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if processes:
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.dup2(fd, 1)
os.dup2(fd, 2)
if not supervise:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # see IGNORE_SIGINT
    os.execv(command[0], command)
prctl = ctypes.CDLL(None, use_errno=True).prctl
prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader's interrupt is for the kernel
kernel = os.fork()
if kernel == 0:
    prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with this supervisor
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(command[0], command)
while True:
    pid, status = os.wait()
    if pid == kernel:
        break
me = str(os.getpid())
while True:
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == me:
                    os.kill(int(name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass
    try:
        os.wait()
    except ChildProcessError:
        break
os._exit(os.waitstatus_to_exitcode(status) % 256)
"""


# NOTE: jupyter_client interrupts a kernel by sending SIGINT to its process group, which
# includes bwrap itself, and SIGINT ends bwrap and with it the sandbox. bwrap starts with
# SIGINT ignored (an ignored signal stays ignored across exec); LIMITS_LAUNCHER restores
# it for the kernel. Under bwrap the kernel is in a session of its own (--new-session:
# no terminal to inject keystrokes into), out of reach of that SIGINT, so the grader
# interrupts it by message instead (`execute.SandboxedKernelManager.interrupt_mode`).
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
            f"WARNING: student code runs UNSANDBOXED ({self.reason}): with the grader's rights "
            f"(root's, if the grader runs as root), it can read solutions/, the gradebook and "
            f"other submissions, write to the venv and the course, see the grader's processes "
            f"and reach the network; its disk use and shared memory have no total limit, its "
            f"processes are counted only every few tenths of a second, and a process it "
            f"detaches from the grader's supervisor can outlive grading. Install bubblewrap "
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


def _package_path() -> str:
    """Where the course package's files are (an editable install: in the course folder)."""
    import cs231n_lib

    return str(Path(cs231n_lib.__file__).resolve().parent)


def _python_binds(package_dir: Path | None = None) -> list[str]:
    """Read-only views of this Python: the venv, its base installation, the course
    package (an editable install points into the course folder: bind only the package,
    never the folder, which holds solutions/) and the data directory. `package_dir`, a
    copy of the package (`withhold.withheld_package`), is bound over the package's path
    after everything else, so that the kernel sees only the copy there."""
    from cs231n_lib.config import COURSE_ROOT, data_dir

    paths = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        str(Path(sys.executable).resolve().parent),
    ]
    paths.append(_package_path())
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
    if package_dir is not None:
        args += ["--ro-bind", str(Path(package_dir).resolve()), _package_path()]
    return args


def _check_package_dir(package_dir: Path) -> Path:
    """`package_dir` if it is a copy of the course package, else ValueError."""
    package_dir = Path(package_dir)
    if package_dir.name != "cs231n_lib" or not (package_dir / "__init__.py").is_file():
        raise ValueError(
            f"package_dir must be a copy of the cs231n_lib package (a folder named cs231n_lib "
            f"with __init__.py), such as withhold.withheld_package returns; got {package_dir}"
        )
    return package_dir


def bwrap_arguments(
    work_dir: Path, kernel_dir: Path, env: dict[str, str], package_dir: Path | None = None
) -> list[str]:
    """bwrap's options for one kernel: namespaces, no capabilities, an unprivileged uid,
    read-only system and Python, a size-capped /submission into which LIMITS_LAUNCHER
    copies the submission's files, the kernel's connection folder read-write at its own
    path (the grader connects to its sockets there). With `package_dir`, that copy of
    the package is what the kernel finds at the package's path."""
    args = ["--unshare-all", "--die-with-parent", "--clearenv", "--new-session"]
    args += _unprivileged()
    args += _system_binds()
    # NOTE: the private /tmp comes before the Python binds, so a venv or course that lives
    # under /tmp (a CI checkout) is mounted on top of it instead of hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SANDBOX_SHM_SIZE), "--tmpfs", "/dev/shm"]
    args += ["--size", str(SANDBOX_TMP_SIZE), "--tmpfs", "/tmp"]
    args += _python_binds(package_dir)
    args += ["--bind", str(kernel_dir), str(kernel_dir)]
    args += ["--size", str(submission_size(work_dir)), "--tmpfs", SUBMISSION_DIR]
    args += ["--ro-bind", str(work_dir), SUBMISSION_SOURCE, "--chdir", SUBMISSION_DIR]
    args += ["--remount-ro", "/"]  # the sandbox's own root: writable only where bound so
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def _unprivileged() -> list[str]:
    """No capabilities, no more user namespaces and uid SANDBOX_UID inside, as root too.
    bwrap always sets no_new_privs. NOTE: run by root, bwrap maps the sandbox's uid to
    root outside (the only mapping it makes): without capabilities that reaches nothing
    but the folders bound read-write, but the kernel does not enforce RLIMIT_NPROC for
    it, so the grader's watchdog counts processes (see SANDBOX_MAX_PROCESSES)."""
    uid = str(SANDBOX_UID)
    return ["--unshare-user", "--uid", uid, "--gid", uid, "--disable-userns", "--cap-drop", "ALL"]


def submission_size(work_dir: Path) -> int:
    """Bytes of the /submission tmpfs: the submission's files (in whole pages) plus
    SANDBOX_SUBMISSION_ROOM."""
    page = 4096
    used = 0
    if work_dir.is_dir():
        for path in work_dir.rglob("*"):
            size = path.lstat().st_size if path.is_file() else 0
            used += (size + page - 1) // page * page + page
    return used + SANDBOX_SUBMISSION_ROOM


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
    package_dir: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start `command` (a kernel) sandboxed by
    bwrap (or only limited and supervised, when `bwrap` is "").

    `package_dir`: a copy of the package to import instead of the real one (the graded
    notebook's exercises withheld, `withhold.withheld_package`). Under bwrap it is bound
    read-only over the package's path: the kernel has no way to the real files. Without
    bwrap, its parent only comes first on PYTHONPATH: best effort, which does not hold
    against a hostile student, who can read the real package from the course folder.
    """
    home = "/tmp" if bwrap else str(kernel_dir / "home")
    env = kernel_env(home)
    if package_dir is not None:
        package_dir = _check_package_dir(package_dir)
        if not bwrap:
            env["PYTHONPATH"] = str(package_dir.resolve().parent)
    # RLIMIT_NPROC counts every process of the uid outside a user namespace: set it only
    # in the sandbox, where it counts the submission's own.
    processes = SANDBOX_MAX_PROCESSES if bwrap else 0
    source = SUBMISSION_SOURCE if bwrap else ""
    launcher = [
        sys.executable, "-c", LIMITS_LAUNCHER,
        str(limits.memory), str(limits.max_file_size), str(processes),
        str(kernel_dir / "kernel.log"), source, "0" if bwrap else "1",
    ]  # fmt: skip
    if not bwrap:
        Path(home).mkdir(parents=True, exist_ok=True)
        return launcher + command, env
    options = bwrap_arguments(work_dir, kernel_dir, env, package_dir)
    sandboxed = [*IGNORE_SIGINT, bwrap, *options, "--"]
    return sandboxed + launcher + command, env


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants now, from /proc: under bwrap (root: bwrap) every
    process of the submission; without it (root: the supervisor, a subreaper) those
    that have not left it."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        parents.setdefault(ppid, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    return tree


def memory_in_use(pids: list[int]) -> int:
    """Bytes of memory (PSS: shared pages split among their users) of these processes."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (OSError, ValueError, IndexError):
            continue  # gone, or a kernel thread
    return total


def end_process_tree(root: int) -> None:
    """Kill `root`'s descendants until none are left, then `root`: descendants first, so
    that orphans go to the supervisor (a subreaper) and are found in the next round."""
    import signal
    import time

    for _ in range(100):
        children = process_tree(root)[1:]
        if not children:
            break
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    try:
        os.kill(root, signal.SIGKILL)
    except OSError:
        pass


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
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", *_unprivileged()]
    args += [*_system_binds(), "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not run: {exc}"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bwrap fails on this machine: {detail}"
    return ""
