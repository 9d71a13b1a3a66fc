"""Every benchmark of the course, one table: `make bench` (or `make bench ONLY=fast/*`).

    .venv/bin/python benchmarks/run.py [--only PATTERN ...] [--fresh] [--list]

Items (ids for --only, shell-style patterns, comma or space separated):
- fast/NN_topic/notebook  each solution notebook in fast mode: wall and CPU seconds;
- full/NN_topic/notebook  each in full mode: seconds and the metrics of targets.py
                          against the bars the notebooks state (the only place they are
                          checked);
- grade                   `cs231n grade --jobs 2` against plain sequential `nbgrader
                          autograde` on one class, A B A B, and the per-submission overhead;
- grade-dask              the same class on a Dask LocalCluster of 2 workers;
- conv, layers            numpy layers against their torch twins, forward + backward;
- ci                      the README's test command, wall time by test file;
- gpu                     torch references, block tests and training steps on CUDA (skipped
                          without a GPU; see benchmarks/gpu.py).

Each item's result is kept in benchmarks/results/ALIAS.json with a hash of what it measured
(its notebook or script and the package sources): a later run reuses results whose hash
still matches, so a long full-mode run resumes where it stopped; --fresh measures again.
Every run rewrites benchmarks/RESULTS.md from all the results kept. torch and BLAS run at
2 threads in every comparison. Not a test.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from targets import TARGETS  # noqa: E402

RESULTS_DIR = HERE / "results"
BUSY_LOAD = 0.7  # a 1-minute load average above this at the start: other work is running


def notebooks() -> list[Path]:
    """The solution notebooks, in course order."""
    return sorted((REPO / "solutions").glob("[0-9][0-9]_*/*.ipynb"))


def _package_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "cs231n_lib").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class Item:
    """One benchmark: an id, the files its result depends on, and the function that runs it."""

    def __init__(self, item_id: str, run: Callable[[], dict], inputs: list[Path]):
        self.id, self.run, self.inputs = item_id, run, inputs

    @property
    def path(self) -> Path:
        return RESULTS_DIR / (self.id.replace("/", "__") + ".json")

    def digest(self, package: str) -> str:
        h = hashlib.sha256(package.encode())
        for path in self.inputs:
            h.update(path.read_bytes())
        return h.hexdigest()[:16]


def _notebook_item(path: Path, full: bool) -> Item:
    import notebooks as nb_bench

    key = path.relative_to(REPO / "solutions").as_posix()
    item_id = ("full/" if full else "fast/") + key.removesuffix(".ipynb")
    targets = TARGETS.get(key, ()) if full else ()

    def run() -> dict:
        result = nb_bench.execute(path, fast=not full, targets=targets)
        result["targets"] = [
            {
                "name": t.name,
                "bar": t.bar,
                "higher_is_better": t.higher_is_better,
                "stated": t.stated,
                "note": t.note,
                "value": result["values"].get(t.name),
            }
            for t in targets
        ]
        return result

    inputs = [path, HERE / "notebooks.py"] + ([HERE / "targets.py"] if full else [])
    return Item(item_id, run, inputs)  # fast mode reads no targets


def _script_item(item_id: str, module: str, function: str) -> Item:
    def run() -> dict:
        return getattr(__import__(module), function)()

    return Item(item_id, run, [HERE / f"{module}.py"])


def items() -> list[Item]:
    """Every benchmark, in the order of RESULTS.md."""
    found = [_notebook_item(p, full=False) for p in notebooks()]
    found += [_notebook_item(p, full=True) for p in notebooks()]
    found += [
        _script_item("grade", "grade_throughput", "measure"),
        _script_item("grade-dask", "grade_throughput", "measure_dask"),
        _script_item("conv", "conv_im2col", "measure"),
        _script_item("layers", "layers_numpy_torch", "measure"),
        _script_item("ci", "ci_time", "measure"),
        _script_item("gpu", "gpu", "measure"),
    ]
    return found


def selected(all_items: list[Item], patterns: list[str]) -> list[Item]:
    """The items whose id matches one of the patterns (all items for none)."""
    if not patterns:
        return all_items
    chosen = [i for i in all_items if any(fnmatch.fnmatchcase(i.id, p) for p in patterns)]
    if not chosen:
        known = ", ".join(sorted({i.id.split("/")[0] for i in all_items}))
        raise SystemExit(
            f"--only {' '.join(patterns)} matches no benchmark; ids start with {known} "
            f"(see --list), e.g. --only 'fast/*' or --only 'full/14_video/*'"
        )
    return chosen


def machine() -> dict:
    """Where the figures were measured: cores, BLAS, torch build, device."""
    import numpy as np
    import torch

    from cs231n_lib import config

    blas = "unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name')} {info.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "host": platform.node(),
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "torch": torch.__version__ + (f" CUDA {torch.version.cuda}" if torch.version.cuda else ""),
        "device": str(config.device()),
        "commit": _git("rev-parse", "--short", "HEAD"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_results(all_items: list[Item]) -> dict[str, dict]:
    """The kept result of every item that has one (stale ones included, marked)."""
    package = _package_digest()
    kept = {}
    for item in all_items:
        if item.path.is_file():
            record = json.loads(item.path.read_text())
            record["stale"] = record.get("digest") != item.digest(package)
            kept[item.id] = record
    return kept


def run_items(chosen: list[Item], fresh: bool) -> None:
    """Measure each chosen item unless a kept result is still current; keep the result."""
    RESULTS_DIR.mkdir(exist_ok=True)
    if os.getloadavg()[0] > BUSY_LOAD:
        print(
            f"warning: the machine is busy (load {os.getloadavg()[0]:.1f}): timings will be "
            "inflated, and torch at 2 threads beside other work can run several times slower "
            "(each item's load is kept with its result)",
            flush=True,
        )
    package = _package_digest()
    where = machine()
    for number, item in enumerate(chosen, 1):
        digest = item.digest(package)
        if not fresh and item.path.is_file():
            if json.loads(item.path.read_text()).get("digest") == digest:
                print(f"[{number}/{len(chosen)}] {item.id}: kept (current)", flush=True)
                continue
        print(f"[{number}/{len(chosen)}] {item.id} ...", flush=True)
        start, load = time.monotonic(), os.getloadavg()[0]
        try:
            result = item.run()
        except Exception as exc:  # one failing benchmark must not lose the others
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result.update(digest=digest, machine=where, seconds=round(time.monotonic() - start, 1))
        result["load"] = round(max(load, os.getloadavg()[0]), 1)  # other work on the machine
        item.path.write_text(json.dumps(result, indent=1))
        print(f"    {report.summary(item.id, result)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="id patterns (default: all)")
    parser.add_argument("--fresh", action="store_true", help="measure again, ignore kept")
    parser.add_argument("--list", action="store_true", help="list the ids and stop")
    parser.add_argument(
        "--ci-report",
        nargs=2,
        metavar=("JUNIT_XML", "WALL_S"),
        help="the ci item from this JUnit report of a make test run made elsewhere (a "
        "clean clone's .ci/run) and its wall seconds, instead of running make test",
    )
    args = parser.parse_args()
    patterns = [p for arg in args.only for p in arg.replace(",", " ").split()]
    all_items = items()
    if args.ci_report:
        import ci_time

        junit, wall = Path(args.ci_report[0]), float(args.ci_report[1])
        for item in all_items:
            if item.id == "ci":
                item.run = lambda: ci_time.from_report(junit, wall)
    chosen = selected(all_items, patterns)
    if args.list:
        print("\n".join(i.id for i in chosen))
        return
    run_items(chosen, args.fresh)
    text = report.results_markdown(load_results(all_items), [i.id for i in all_items], machine())
    (HERE / "RESULTS.md").write_text(text)
    print(f"wrote {(HERE / 'RESULTS.md').relative_to(REPO)}")


if __name__ == "__main__":
    main()
