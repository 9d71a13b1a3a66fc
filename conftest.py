"""Root pytest configuration: fast mode for every test and every executed notebook."""

import os
import re

import pytest

# Set before any kernel starts, so notebooks executed by nbval or nbgrader inherit it.
os.environ.setdefault("CS231N_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers share two cores: more BLAS threads per kernel only fight each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_itemcollected(item):
    # nbval runs a notebook's cells in order in one kernel: keep each notebook on one
    # xdist worker (--dist loadgroup) while other tests spread over all workers.
    # Marked here, before xdist reads the marks in pytest_collection_modifyitems.
    path = item.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        # NOTE: xdist reads "." and "/" in a group name as part of the node id.
        item.add_marker(pytest.mark.xdist_group(re.sub(r"\W", "_", path)))


# A kernel that sits idle while a cell runs (a widget waiting for a browser, input(), a
# lock) would hold a notebook test until the cell timeout (10 minutes). The watch below
# reads the CPU time of the kernel and its children every second while an nbval cell runs;
# when they used less than IDLE_CPU_SHARE of a core for CS231N_IDLE_LIMIT seconds (60 by
# default), it interrupts the kernel and the cell fails, naming the idle time.
IDLE_CPU_SHARE = 0.02


def _kernel_cpu_seconds(process) -> float:
    import psutil

    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # a child that ended between the listing and the reading
            continue
        total += times.user + times.system
    return total


class _IdleWatch:
    """Polls the kernel of one running cell; `fired` holds the idle seconds once it struck."""

    def __init__(self, kernel, limit: float, interval: float = 1.0):
        import threading

        import psutil

        self.kernel, self.limit, self.interval = kernel, limit, interval
        self.process = psutil.Process(kernel.km.provisioner.process.pid)
        self.fired: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import time

        import psutil

        window = []  # (time, cpu seconds), covering at least the last `limit` seconds
        while not self._stop.wait(self.interval):
            try:
                sample = (time.monotonic(), _kernel_cpu_seconds(self.process))
            except psutil.Error:  # the kernel died: nbval reports that itself
                return
            window.append(sample)
            while len(window) > 2 and window[-1][0] - window[1][0] >= self.limit:
                window.pop(0)
            elapsed = window[-1][0] - window[0][0]
            used = window[-1][1] - window[0][1]
            if elapsed >= self.limit and used < IDLE_CPU_SHARE * elapsed:
                self.fired = elapsed
                self.kernel.km.interrupt_kernel()
                return


# No randomized test case may pass by luck: right after a graded test cell of a solution
# notebook passes under nbval, the same cell runs again in the same kernel under each of
# CASE_SEEDS (CS231N_TEST_SEED, read by cs231n_lib.checks.case_seed; the grader uses the
# default), then the seed is unset and the notebook goes on. Done here, in nbval's own run,
# so that no notebook is executed a second time for it.
CASE_SEEDS = range(10)


def _is_graded_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _run_in_kernel(kernel, source: str, timeout: float) -> str | None:
    """Execute `source` in nbval's running kernel; None, or the error it raised."""
    msg_id = kernel.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
    while True:
        reply = kernel.kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    kernel.await_idle(msg_id, timeout)  # its output, which nbval's next cell must not read
    content = reply["content"]
    if content["status"] == "ok":
        return None
    return f"{content.get('ename')}: {content.get('evalue', '')[:300]}"


def _seed_failures(item, kernel) -> list[str]:
    """The seeds of CASE_SEEDS under which the graded test cell `item` fails."""
    timeout = item.config.getoption("nbval_cell_timeout")
    failures = []
    for seed in CASE_SEEDS:
        _run_in_kernel(kernel, f"import os as _os\n_os.environ['CS231N_TEST_SEED'] = '{seed}'", 60)
        error = _run_in_kernel(kernel, item.cell.source, timeout)
        if error is not None:
            failures.append(f"CS231N_TEST_SEED={seed}: {error}")
    _run_in_kernel(kernel, "import os as _os\n_os.environ.pop('CS231N_TEST_SEED', None)", 60)
    return failures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    if not item.nodeid.split("::")[0].endswith(".ipynb") or kernel is None:
        return (yield)
    limit = float(os.environ.get("CS231N_IDLE_LIMIT", "60"))
    failures: list[str] = []
    with _IdleWatch(kernel, limit) as watch:
        try:
            result = yield
            if _is_graded_test(item.cell):
                failures = _seed_failures(item, kernel)
        except BaseException:
            if watch.fired is None:
                raise
    if watch.fired is not None:
        pytest.fail(
            f"the kernel sat idle for {watch.fired:.0f} s while this cell ran (under "
            f"{IDLE_CPU_SHARE:.0%} of a core), so it was interrupted: is the cell waiting for "
            "a browser (ipywidgets.interact, a widget's value read back), for input(), or on a "
            "lock? Use cs231n_lib.widgets.controls for widgets.",
            pytrace=False,
        )
    if failures:
        grade_id = item.cell.metadata["nbgrader"].get("grade_id", "this cell")
        pytest.fail(
            f"{grade_id} passes under the grader's seed but fails correct code under "
            f"{len(failures)} of {len(CASE_SEEDS)} other seeds of its random cases (draw them "
            "from cs231n_lib.checks.case_rng/case_seed and make each case robust, e.g. keep "
            "values away from a kink or a tie):\n" + "\n".join(failures),
            pytrace=False,
        )
    return result
