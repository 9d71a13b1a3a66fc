"""Every limit of grading, defined once: what a submission may use, and the sandbox modes.

`Limits` holds what one submission's kernel may use; its defaults (`DEFAULT_LIMITS`) are
what `cs231n grade`, the worker, `GuardedExecute` and the student's self-check use, and
what nbgrader_config.py gives nbgrader as `Execute.timeout`. `cs231n grade` reads the
per-cell timeout back from the course's nbgrader_config.py, so an instructor who writes
another number there changes it for nbgrader and `cs231n grade` alike; the command's
options (--cell-timeout, --notebook-timeout, --memory-limit) override it for one run.

A leaf module (nothing of the package, nothing of nbgrader): the command line, the
self-check and nbgrader_config.py import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SANDBOX_MODES = ("auto", "require", "off")  # use bwrap if it works / fail without it / never
DEFAULT_SANDBOX_MODE = "auto"

MAX_SUBMISSION_BYTES = 200 * 2**20  # per student at intake, zip contents included
MAX_FILES = 500  # per student at intake
MAX_MESSAGE_BYTES = 2_000  # of a failure message or note in the CSVs, summaries, terminal
SANDBOX_TMP_SIZE = 256 * 2**20  # bytes: the sandbox's /tmp lives in memory
SANDBOX_SHM_SIZE = 64 * 2**20  # bytes: the sandbox's own /dev/shm, in memory
# bytes a kernel may add to /submission, a tmpfs sized to the submission's files plus this
SANDBOX_SUBMISSION_ROOM = 256 * 2**20
SANDBOX_UID = 65534  # uid and gid of student code inside bwrap ("nobody")
# Processes and threads of one submission. Inside bwrap it is RLIMIT_NPROC, which the kernel
# counts per user namespace but does not enforce when the sandbox's uid maps to root outside
# (a grader run as root); there, and without bwrap, the grader's watchdog counts the
# submission's processes every MEMORY_POLL_SECONDS and ends the submission past it.
SANDBOX_MAX_PROCESSES = 256
# The grader's watchdog: how often it sums the memory (PSS) and counts the processes of a
# submission's whole process tree. This, not a cgroup, is the bound on memory across all of
# a submission's processes (Limits.memory), so a burst shorter than this can pass it; each
# process is also held to Limits.memory of address space by RLIMIT_AS, and the sandbox's
# tmpfs folders (/tmp, /dev/shm, /submission) are capped by their sizes above.
MEMORY_POLL_SECONDS = 0.2
# How long a new kernel may take to answer its first message. nbclient's default (60 s) was
# not enough on a loaded 2-core CI machine (two kernels timed out there at once); a kernel
# that never answers is still ended by the notebook's time limit.
KERNEL_STARTUP_SECONDS = 300


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is graded."""

    cell_timeout: int = 120  # s per cell, many times the slowest fast-mode cell; then interrupt
    notebook_timeout: int = 900  # s for a whole notebook, kernel start included; then killed
    memory: int = 4 * 2**30  # bytes: each process's address space, and all processes' PSS
    max_output: int = 1_000_000  # bytes of output kept per cell; the rest is dropped
    max_file_size: int = 100 * 2**20  # bytes: the largest file the kernel may write

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{field.name}={value!r} must be a positive integer")


DEFAULT_LIMITS = Limits()


def parse_size(text: str) -> int:
    """Bytes in a size such as '4G', '512M', '1.5G' or '1000000'."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if cleaned[-1:] in units else cleaned
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise ValueError(f"size {text!r} is not understood; use e.g. 4G, 512M or 1000000") from None
    if value <= 0:
        raise ValueError(f"size {text!r} must be positive")
    return value


def format_size(num_bytes: int) -> str:
    """A size as parse_size reads it back, in the largest whole unit: 4G, 512M, 1000."""
    for unit, factor in (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if num_bytes % factor == 0:
            return f"{num_bytes // factor}{unit}"
    return str(num_bytes)


def check_sandbox_mode(mode: str) -> None:
    """Raise ValueError unless `mode` is one of SANDBOX_MODES."""
    if mode not in SANDBOX_MODES:
        raise ValueError(f"sandbox mode {mode!r} is not one of {SANDBOX_MODES}")
