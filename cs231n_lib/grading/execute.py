"""Executing a submission for nbgrader, safely: `GuardedExecute` replaces nbgrader's
`Execute` preprocessor in autograding.

What it adds to nbgrader's execution:

- test cells never run in the student's kernel: they run in this (the grader's) process,
  which reaches the student's functions and objects over a bridge that carries plain data
  only (trusted.py, wire.py); the kernel runs every other cell. A test cell's outputs and
  its verdict (`trusted.RECORDS`) are made here, not by student code;
- the kernel starts through `sandbox.kernel_command` (bwrap, resource limits, scrubbed
  environment) and talks to the grader over Unix sockets in its own folder, because a
  sandboxed kernel has no network, not even loopback;
- its working folder holds the student's files only, not the notebook with the hidden
  tests restored that nbgrader keeps in autograded/;
- a wall-clock limit for the whole notebook: past it the kernel is killed;
- a kernel that dies (os._exit, a crash, the memory limit), that is killed, or that
  ignores the interrupt after a cell timeout does not fail the whole notebook: the cell
  where it happened and every later cell get an error output with the reason, so
  nbgrader scores them 0 and every earlier cell keeps its score;
- output beyond `Limits.max_output` bytes per cell is dropped, with a note;
- a watchdog sums the memory and counts the processes of the submission's whole process
  tree: past `Limits.memory` or SANDBOX_MAX_PROCESSES it ends the submission;
- every process of the submission ends with it: the whole tree is killed at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from time import monotonic

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Integer, List, Unicode

from cs231n_lib.grading import sandbox, trusted
from cs231n_lib.grading.escape import cap_text
from cs231n_lib.grading.limits import (
    DEFAULT_LIMITS,
    KERNEL_STARTUP_SECONDS,
    MEMORY_POLL_SECONDS,
    SANDBOX_MAX_PROCESSES,
    Limits,
)

NOT_RUN = "NotRun"  # ename of the error put in cells that never ran
KERNEL_DIED = "KernelDied"  # ename of the error in the cell where the kernel stopped
BRIDGE_SOCKET = "bridge"  # in the kernel's folder, removed once the kernel has connected
BRIDGE_CONNECT_SECONDS = 30  # for the kernel to connect to the bridge once it is ready


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel under `command_prefix` and with `kernel_env`."""

    command_prefix = List(Unicode())  # the sandbox command; `-- kernel command` follows
    bridge_path = Unicode("")  # the bridge socket: the kernel starts as student_kernel
    kernel_env = List(Unicode())  # "KEY=value" items: the kernel's whole environment
    # "message" under bwrap: the kernel is in a session of its own (see sandbox.IGNORE_SIGINT)
    interrupt_mode = Unicode("signal")

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        if self.bridge_path:
            if "ipykernel_launcher" not in command:
                raise RuntimeError(f"not a Python kernel command: {command}")
            at = command.index("ipykernel_launcher")
            kernel = ["cs231n_lib.grading.student_kernel", "--bridge", self.bridge_path]
            command[at : at + 1] = kernel
        return [*self.command_prefix, *command]

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = self.interrupt_mode
        return spec

    @property
    def root_process(self):
        """The Popen of the process the kernel runs under (bwrap or the supervisor)."""
        provisioner = self.provisioner
        return getattr(provisioner, "process", None) if provisioner is not None else None

    @property
    def process_group(self) -> int | None:
        provisioner = self.provisioner
        return getattr(provisioner, "pgid", None) if provisioner is not None else None


class GuardedExecute(Execute):
    """nbgrader's Execute with a sandboxed kernel, a notebook time limit, an output cap,
    and a score of 0 (not a failed autograde) for cells after a kernel death."""

    # The worker sets all five limits from the bundle's Limits; defaults: DEFAULT_LIMITS.
    timeout = Integer(DEFAULT_LIMITS.cell_timeout, help="seconds per cell").tag(config=True)
    notebook_timeout = Integer(
        DEFAULT_LIMITS.notebook_timeout, help="seconds for the whole notebook"
    ).tag(config=True)
    max_output = Integer(DEFAULT_LIMITS.max_output, help="bytes kept per cell").tag(config=True)
    memory_limit = Integer(DEFAULT_LIMITS.memory, help="bytes of address space").tag(config=True)
    max_file_size = Integer(DEFAULT_LIMITS.max_file_size, help="bytes per file").tag(config=True)
    bwrap = Unicode("", help="path of bwrap; empty: no sandbox").tag(config=True)
    work_dir = Unicode(help="the kernel's working folder (the student's files)").tag(config=True)
    kernel_dir = Unicode(help="folder for the connection file and sockets").tag(config=True)
    package_dirs = Dict(
        help="notebook name -> the package copy its kernel imports (withhold.py)"
    ).tag(config=True)
    startup_timeout = Integer(
        KERNEL_STARTUP_SECONDS, help="seconds for a new kernel to answer"
    ).tag(config=True)
    trusted_tests = Bool(
        True, help="run test cells in this process, not in the student's kernel"
    ).tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    @property
    def limits(self) -> Limits:
        return Limits(
            cell_timeout=self.timeout,
            notebook_timeout=self.notebook_timeout,
            memory=self.memory_limit,
            max_output=self.max_output,
            max_file_size=self.max_file_size,
        )

    def create_kernel_manager(self):
        kernel_dir = Path(self.kernel_dir)
        kernel_dir.mkdir(parents=True, exist_ok=True)
        package = self.package_dirs.get(getattr(self, "_notebook_name", ""))
        prefix, env = sandbox.kernel_command(
            [], self.limits, Path(self.work_dir), kernel_dir, self.bwrap,
            package_dir=Path(package) if package else None,
        )  # fmt: skip
        self.km = self.kernel_manager_class(
            kernel_name=self.kernel_name or "python3",
            config=self.config,
            transport="ipc",
            ip=str(kernel_dir / "ipc"),
            connection_file=str(kernel_dir / "kernel.json"),
            command_prefix=prefix,
            bridge_path=str(kernel_dir / BRIDGE_SOCKET) if self.trusted_tests else "",
            kernel_env=[f"{k}={v}" for k, v in env.items()],
            interrupt_mode="message" if self.bwrap else "signal",
        )
        return self.km

    async def async_start_new_kernel(self, **kwargs):
        kwargs["cwd"] = self.work_dir
        kwargs["env"] = dict(item.split("=", 1) for item in self.km.kernel_env)
        listener = self._listen() if self.trusted_tests else None
        try:
            await super().async_start_new_kernel(**kwargs)
            if listener is not None:
                self._connect(listener)
        finally:
            if listener is not None:
                listener.close()
                Path(self.km.bridge_path).unlink(missing_ok=True)

    def _listen(self) -> socket.socket:
        path = Path(self.km.bridge_path)
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o666)  # the kernel's uid inside bwrap is not the grader's
        listener.listen(1)
        return listener

    def _connect(self, listener: socket.socket) -> None:
        """Accept the kernel's one connection (made before any student code ran) and set
        up the tests' side of the bridge."""
        listener.settimeout(BRIDGE_CONNECT_SECONDS)
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            raise RuntimeError("the kernel did not connect to the grader's bridge") from None
        name = self._notebook_name or "notebook"
        self.runner = trusted.TestRunner(trusted.Bridge(sock), self.nb.cells, name)
        self.runner.interrupt = self._interrupt

    # nbclient's sync wrapper is bound to its own coroutine, not to this override.
    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb: NotebookNode, resources, km=None):
        self.runner: trusted.TestRunner | None = None
        self._notebook_name = str((resources or {}).get("unique_key") or "notebook")
        self.stopped = ""  # why the remaining cells do not run
        self.kill_reason = ""
        self._output_bytes: dict[int, int] = {}
        self.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {self.timeout} s and was interrupted",
            "traceback": [f"CellTimeoutError: the cell ran longer than {self.timeout} s"],
        }
        watchdog = threading.Timer(self.notebook_timeout, self._stop_notebook)
        watchdog.daemon = True
        self._deadline = monotonic() + self.notebook_timeout
        watchdog.start()
        self._done = threading.Event()
        usage = threading.Thread(target=self._watch_usage, daemon=True)
        usage.start()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            watchdog.cancel()
            self._done.set()
            usage.join()
            if self.runner is not None:
                trusted.RECORDS[self._notebook_name] = dict(self.runner.record)
                trusted.FLAGS[self._notebook_name] = list(self.runner.flags)
                self.runner.bridge.peer.close()

    async def _async_cleanup_kernel(self):
        process = self._root_process()
        try:
            await super()._async_cleanup_kernel()
        finally:
            if process is not None and process.poll() is None:
                sandbox.end_process_tree(process.pid)  # what outlived the kernel's shutdown

    # nbclient's sync wrapper is bound to its own coroutine, not to this override.
    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    def _root_process(self):
        km = getattr(self, "km", None)
        return km.root_process if isinstance(km, SandboxedKernelManager) else None

    def _watch_usage(self):
        """End the submission when its processes together pass the memory limit or
        SANDBOX_MAX_PROCESSES (see MEMORY_POLL_SECONDS)."""
        while not self._done.wait(MEMORY_POLL_SECONDS):
            process = self._root_process()
            if process is None or process.poll() is not None:
                continue
            tree = sandbox.process_tree(process.pid)
            if len(tree) > SANDBOX_MAX_PROCESSES:
                reason = f"more than {SANDBOX_MAX_PROCESSES} processes"
            elif sandbox.memory_in_use(tree) > self.memory_limit:
                reason = f"more than {_mib(self.memory_limit)} of memory in all its processes"
            else:
                continue
            self.kill_reason = f"the submission was stopped: it used {reason}"
            self._kill_kernel()

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if not self.stopped and monotonic() > self._deadline:
            self._stop_notebook()  # the watchdog fired before there was a kernel to stop
            self.stopped = self.kill_reason
        if self.stopped:
            cell.outputs = [_error(NOT_RUN, f"this cell did not run: {self.stopped}")]
            cell.execution_count = None
            return cell, resources
        runner = self.runner
        try:
            if runner is not None and index in runner.plan.tests:
                return self._run_test(cell, resources, index)
            cell, resources = super().preprocess_cell(cell, resources, index)
            if runner is not None and index in runner.plan.shared:
                runner.run_shared(cell, index, self._cell_seconds())
            return cell, resources
        except (DeadKernelError, trusted.KernelGone):
            self.stopped = self.kill_reason or (
                f"the kernel died in {_describe(cell, index)} (os._exit, a crash, or more "
                f"than {_mib(self.memory_limit)} of memory)"
            )
        except (CellTimeoutError, trusted.CellTimeout):
            self._kill_kernel()
            self.stopped = (
                f"{_describe(cell, index)} ran longer than {self.timeout} s and did not stop "
                f"when interrupted, so the kernel was stopped"
            )
        cell.outputs = [*cell.get("outputs", []), _error(KERNEL_DIED, self.stopped)]
        return cell, resources

    def _run_test(self, cell, resources, index):
        """A test cell, run here: its outputs and verdict are this process's."""
        cell.outputs = []
        cell.execution_count = None
        cell.outputs = self.runner.run_test(cell, index, self._cell_seconds())
        for output in cell.outputs:  # the same output cap as the kernel's
            if output.output_type == "stream":
                output.text = cap_text(output.text, self.max_output)
            elif output.output_type == "error":
                output.evalue = cap_text(output.evalue, self.max_output)
                output.traceback = [cap_text("".join(output.traceback), self.max_output)]
        return cell, resources

    def _interrupt(self) -> bool:
        """Interrupt the kernel (a student function a test called runs too long)."""
        try:
            run_sync(self.km.interrupt_kernel)()
            return True
        except Exception:  # noqa: BLE001  a kernel that cannot be interrupted is killed
            return False

    def _cell_seconds(self) -> float:
        return max(min(self.timeout, self._deadline - monotonic()), 1)

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most `max_output` bytes of stream and display output per cell, and of
        each part of an error (its name, message and traceback)."""
        if msg["msg_type"] == "error":
            content = msg["content"]
            for key in ("ename", "evalue"):
                content[key] = cap_text(str(content.get(key, "")), self.max_output)
            traceback = "\n".join(str(line) for line in content.get("traceback", []))
            if len(traceback.encode("utf-8", "surrogatepass")) > self.max_output:
                content["traceback"] = [cap_text(traceback, self.max_output)]
        if msg["msg_type"] in {"stream", "display_data", "execute_result"}:
            used = self._output_bytes.get(cell_index, 0)
            size = _size(msg["content"])
            self._output_bytes[cell_index] = used + size
            if used >= self.max_output:
                return None
            if used + size > self.max_output:
                if msg["msg_type"] != "stream":
                    return self._truncation_note(outs)
                keep = self.max_output - used
                msg["content"]["text"] = msg["content"]["text"][:keep]
                out = super().output(outs, msg, display_id, cell_index)
                self._truncation_note(outs)
                return out
        return super().output(outs, msg, display_id, cell_index)

    def _truncation_note(self, outs):
        # On stdout: stderr in a test cell would cost its points.
        note = f"\n[output truncated: more than {self.max_output:,} bytes]\n"
        outs.append(NotebookNode(output_type="stream", name="stdout", text=note))

    def _stop_notebook(self):
        self.kill_reason = f"the notebook ran longer than its limit of {self.notebook_timeout} s"
        self._kill_kernel()

    def _kill_kernel(self):
        km = self.km
        process = self._root_process()
        if process is not None and process.poll() is None:
            sandbox.end_process_tree(process.pid)
        pgid = km.process_group if isinstance(km, SandboxedKernelManager) else None
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass  # already gone


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _describe(cell, index: int) -> str:
    """How a student finds the cell: its grade id, else its number and first line."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    if grade_id:
        return f"cell {grade_id}"
    first = (cell.source.strip().splitlines() or [""])[0]
    first = first if len(first) <= 40 else first[:37] + "..."
    return f"cell {index + 1} ({first})"


def _size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    return sum(len(str(value)) for value in content.get("data", {}).values())


def _mib(num_bytes: int) -> str:
    return f"{num_bytes / 2**20:,.0f} MiB"
