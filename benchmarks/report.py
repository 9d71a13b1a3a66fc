"""benchmarks/RESULTS.md from the kept results of run.py: one section per figure."""

from __future__ import annotations

FAST_BAR_S = 30.0  # DESIGN.md: each notebook at most 30 s in fast mode on 2 cores
FAST_TOTAL_BAR_S = 15 * 60.0  # all of them together under 15 minutes
CI_BAR_S = 30 * 60.0  # the whole CI run under 30 minutes with 16 assignments


def _met(value, bar, higher_is_better: bool = True) -> str:
    if bar is None or not isinstance(value, int | float):
        return ""
    ok = value >= bar if higher_is_better else value <= bar
    return "yes" if ok else "**no**"


def _num(value, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:,.{digits - 2}f}"


def summary(item_id: str, result: dict) -> str:
    """One line for the console after an item ran."""
    if result.get("error") and "wall_s" not in result:
        return f"ERROR {result['error']}"
    if item_id.startswith(("fast/", "full/")):
        line = f"{result['wall_s']:.1f} s wall, {result['cpu_s']:.1f} s CPU"
        for target in result.get("targets", []):
            bar = "report only" if target["bar"] is None else f"bar {_num(target['bar'])}"
            line += f"; {target['name']} {_num(target['value'])} ({bar})"
        return line + (f"; FAILED {result['error']}" if result.get("error") else "")
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    return ", ".join(f"{k} {_num(v)}" for k, v in result.items() if isinstance(v, int | float))


def _stale_mark(record: dict) -> str:
    return " (stale)" if record.get("stale") else ""


def _fast_section(results: dict, ids: list[str]) -> list[str]:
    lines = [
        "## 1. Every solution notebook in fast mode",
        "",
        f"`CS231N_FAST=1`, one fresh kernel each, one at a time. Bar: {FAST_BAR_S:.0f} s "
        f"each, {FAST_TOTAL_BAR_S / 60:.0f} minutes in all. CPU: the kernel and its children. "
        "Load: the machine's 1-minute load average around the run (2 means both cores busy "
        "with the run or other work).",
        "",
        "| notebook | wall s | CPU s | kernel start s | load | within bar |",
        "|---|---|---|---|---|---|",
    ]
    total_wall = total_cpu = 0.0
    missing = []
    for item_id in (i for i in ids if i.startswith("fast/")):
        record = results.get(item_id)
        name = item_id.removeprefix("fast/")
        if record is None or "wall_s" not in record:
            missing.append(name)
            continue
        total_wall += record["wall_s"]
        total_cpu += record["cpu_s"]
        ok = (
            "**failed**: " + record["error"]
            if record.get("error")
            else _met(record["wall_s"], FAST_BAR_S, higher_is_better=False)
        )
        lines.append(
            f"| {name}{_stale_mark(record)} | {record['wall_s']:.1f} | {record['cpu_s']:.1f} | "
            f"{record['kernel_start_s']:.1f} | {record.get('load', '')} | {ok} |"
        )
    lines.append(
        f"| **all** | **{total_wall:.0f}** | **{total_cpu:.0f}** | | | "
        f"{_met(total_wall, FAST_TOTAL_BAR_S, higher_is_better=False)} |"
    )
    if missing:
        lines += ["", "Not measured: " + ", ".join(missing) + "."]
    return lines


def _full_section(results: dict, ids: list[str]) -> list[str]:
    lines = [
        "## 2. Every solution notebook in full mode, against its targets",
        "",
        "The notebook as a student runs it; then, in the same kernel, the expressions of",
        "`benchmarks/targets.py` read what it reached. *stated*: the value the notebook's",
        "own Measured cell reports.",
        "",
        "| notebook | minutes | metric | reached | bar | stated | met |",
        "|---|---|---|---|---|---|---|",
    ]
    short, missing = [], []
    for item_id in (i for i in ids if i.startswith("full/")):
        record = results.get(item_id)
        name = item_id.removeprefix("full/")
        if record is None or "wall_s" not in record:
            missing.append(name)
            continue
        minutes = f"{record['wall_s'] / 60:.1f}"
        if record.get("error"):
            lines.append(f"| {name} | {minutes} | **failed**: {record['error']} | | | | |")
            continue
        targets = record.get("targets") or [{"name": "(no target)", "value": None, "bar": None}]
        for target in targets:
            met = _met(target["value"], target["bar"], target.get("higher_is_better", True))
            if met == "**no**":
                short.append(f"{name}: {target['name']}")
            lines.append(
                f"| {name}{_stale_mark(record)} | {minutes} | {target['name']} | "
                f"{_num(target['value'])} | {_num(target['bar'])} | "
                f"{_num(target.get('stated'))} | {met} |"
            )
            name, minutes = "", ""
    lines += ["", "Short of the bar: " + ("; ".join(short) if short else "none") + "."]
    if missing:
        lines += ["", "Not measured: " + ", ".join(missing) + "."]
    return lines


def _grade_section(results: dict) -> list[str]:
    lines = ["## 3. Class grading", ""]
    record = results.get("grade")
    if record is None or "runs" not in record:
        lines.append("Not measured." if record is None else f"Failed: {record.get('error')}")
    else:
        lines += [
            f"{record['students']} submissions of {record['assignment']} (correct ones and "
            f"plausible bugs), fast mode, runs alternated A B A B on one machine.",
            "",
            "| run | grader | seconds | submissions / minute | peak memory MiB |",
            "|---|---|---|---|---|",
        ]
        for number, run in enumerate(record["runs"], 1):
            lines.append(
                f"| {number} | {run['grader']} | {run['seconds']:.1f} | "
                f"{run['per_minute']:.2f} | {run['peak_mib']} |"
            )
        lines += [
            "",
            f"Speed-up of `cs231n grade --jobs {record['jobs']}` over plain sequential "
            f"nbgrader (median rates): **{record['ratio']:.2f}x** (bar {record['bar']}x: "
            f"{_met(record['ratio'], record['bar'])}).",
            "",
            "Where the time goes (seconds, medians; `cs231n grade --jobs 1` of one and of two "
            "correct submissions, the difference being the cost of each further one):",
            "",
            "| part | seconds |",
            "|---|---|",
        ]
        lines += [f"| {part} | {sec:.2f} |" for part, sec in record["overhead"].items()]
    dask = results.get("grade-dask")
    lines += [""]
    if dask is None:
        lines.append("Dask LocalCluster: not measured.")
    elif "per_minute" not in dask:
        lines.append(f"Dask LocalCluster: failed: {dask.get('error')}")
    else:
        lines.append(
            f"The same class on a Dask LocalCluster ({dask['workers']} workers): "
            f"{dask['seconds']:.1f} s, {dask['per_minute']:.2f} submissions a minute."
        )
    return lines


def _layers_section(results: dict) -> list[str]:
    lines = [
        "## 4. numpy layers against their torch twins (CPU, float32, forward + backward)",
        "",
        "| layer | shape | numpy s | torch s | ratio |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for item_id in ("conv", "layers"):
        record = results.get(item_id)
        if record is None or "rows" not in record:
            notes.append(f"{item_id}: " + ("not measured" if record is None else record["error"]))
            continue
        for row in record["rows"]:
            lines.append(
                f"| {row['layer']} | {row['shape']} | {row['numpy_s']:.4f} | "
                f"{row['torch_s']:.4f} | {row['ratio']:.2f} |"
            )
        if record.get("bar"):
            notes.append(
                f"{item_id}: geometric mean ratio {record['geomean']:.2f}x (bar "
                f"{record['bar']}x: {_met(record['geomean'], record['bar'], False)}), "
                f"{record['threads']} threads"
            )
    return lines + [""] + [f"- {note}" for note in notes]


def _ci_section(results: dict) -> list[str]:
    lines = ["## 5. CI: the README's test command", ""]
    record = results.get("ci")
    if record is None or "wall_s" not in record:
        return lines + ["Not measured." if record is None else f"Failed: {record.get('error')}"]
    lines += [
        f"`make test`: **{record['wall_s'] / 60:.1f} minutes** wall (bar "
        f"{CI_BAR_S / 60:.0f}: {_met(record['wall_s'], CI_BAR_S, False)}), "
        f"{record['passed']} passed, {record['failed']} failed, {record['skipped']} skipped. "
        "Worker seconds by test file (two workers, so they add up to about twice the wall):",
        "",
        "| test file | tests | worker s | share |",
        "|---|---|---|---|",
    ]
    total = sum(row["seconds"] for row in record["by_file"]) or 1.0
    for row in record["by_file"]:
        lines.append(
            f"| {row['file']} | {row['tests']} | {row['seconds']:.0f} | "
            f"{100 * row['seconds'] / total:.0f}% |"
        )
    return lines


def _gpu_section(results: dict) -> list[str]:
    lines = ["## 6. GPU", ""]
    record = results.get("gpu")
    if record is None:
        return lines + ["Not measured."]
    if "skipped" in record:
        return lines + [f"Not measured: {record['skipped']}."]
    if "rows" not in record:
        return lines + [f"Failed: {record.get('error')}"]
    lines += [
        f"{record['device']}. Tests on CUDA: {record['tests']}.",
        "",
        "| training benchmark | CPU s / step | GPU s / step | speed-up |",
        "|---|---|---|---|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['name']} | {row['cpu_s']:.4f} | {row['gpu_s']:.4f} | "
            f"{row['cpu_s'] / row['gpu_s']:.1f}x |"
        )
    return lines


def results_markdown(results: dict, ids: list[str], machine: dict) -> str:
    """The whole RESULTS.md."""
    dates = sorted({r["machine"]["date"] for r in results.values() if "machine" in r})
    head = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand. Measured "
        + (f"{dates[0]} to {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "never"))
        + f", last written at commit {machine['commit']}.",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"numpy {machine['numpy']} ({machine['blas']}), torch {machine['torch']}, device "
        f"{machine['device']}; torch and BLAS at 2 threads in every comparison. Results "
        "marked *stale* were measured on other sources than the current ones.",
        "",
    ]
    sections = [
        _fast_section(results, ids),
        _full_section(results, ids),
        _grade_section(results),
        _layers_section(results),
        _ci_section(results),
        _gpu_section(results),
    ]
    body = []
    for section in sections:
        body += section + [""]
    return "\n".join(head + body)
