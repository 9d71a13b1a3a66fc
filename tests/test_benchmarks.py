"""The benchmark runner's own logic (benchmarks/ is not a test: this checks its table of
targets against the notebooks, its selection, its probe cell and its report)."""

from __future__ import annotations

import ast
import builtins
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import ci_time  # noqa: E402
import notebooks as nb_bench  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402
from targets import TARGETS, Target  # noqa: E402


def _top_level_names(path: Path) -> set[str]:
    """Every name a code cell of the notebook binds at top level (assignments, defs,
    imports, for targets), a cheap over-approximation of what the kernel holds."""
    names: set[str] = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_every_solution_notebook_has_its_targets_and_only_those():
    keys = {p.relative_to(REPO / "solutions").as_posix() for p in run.notebooks()}
    assert keys - set(TARGETS) == set(), (
        "benchmarks/targets.py has no entry for these notebooks: add the metric each one "
        "states (a Target with bar None if it states no target)"
    )
    assert set(TARGETS) - keys == set(), "targets.py names notebooks that do not exist"


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_target_expressions_read_names_the_notebook_defines(key):
    defined = _top_level_names(REPO / "solutions" / key)
    for target in TARGETS[key]:
        assert isinstance(target, Target)
        tree = ast.parse(target.expression, mode="eval")
        bound = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
        bound |= {
            t.id
            for c in ast.walk(tree)
            if isinstance(c, ast.comprehension)
            for t in ast.walk(c.target)
            if isinstance(t, ast.Name)
        }
        free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - bound
        unknown = free - defined - set(dir(builtins))
        assert not unknown, f"{key}: {target.name!r} reads {sorted(unknown)}, not defined there"


def test_probe_cell_reports_values_and_errors_per_target():
    targets = (
        Target("twice", "2 * x", bar=1.0),
        Target("broken", "missing_name + 1", bar=None),
    )
    namespace: dict = {"x": 0.25}
    printed: list[str] = []
    namespace["print"] = printed.append
    exec(nb_bench.probe_source(targets), namespace)
    (line,) = printed
    assert line.startswith(nb_bench.PROBE_MARK)
    values = json.loads(line[len(nb_bench.PROBE_MARK) :])
    assert values["twice"] == 0.5
    assert values["broken"].startswith("NameError")


def test_only_patterns_select_items_and_reject_typos():
    items = run.items()
    fast = run.selected(items, ["fast/*"])
    assert fast and all(i.id.startswith("fast/") for i in fast)
    assert len(fast) == len(run.notebooks())
    assert [i.id for i in run.selected(items, ["conv", "full/14_video/*"])] == [
        "full/14_video/video",
        "conv",
    ]
    with pytest.raises(SystemExit, match="matches no benchmark"):
        run.selected(items, ["fats/*"])


def test_ci_report_sums_worker_seconds_per_file(tmp_path):
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase file="tests/test_a.py" classname="tests.test_a" name="x" time="1.5"/>'
        '<testcase file="tests/test_a.py" classname="tests.test_a" name="y" time="2.0">'
        "<failure/></testcase>"
        '<testcase file="tests/test_b.py" classname="tests.test_b" name="z" time="9.0">'
        "<skipped/></testcase>"
        "</testsuite></testsuites>"
    )
    counts, rows = ci_time.by_file(xml)
    assert counts == {"passed": 1, "failed": 1, "skipped": 1}
    assert rows == [
        {"file": "tests/test_b.py", "tests": 1, "seconds": 9.0},
        {"file": "tests/test_a.py", "tests": 2, "seconds": 3.5},
    ]
    # A report of a run made elsewhere (a clean clone's .ci/run) becomes the ci item.
    result = ci_time.from_report(xml, 1234.56)
    assert result["wall_s"] == 1234.6 and result["failed"] == 1
    assert result["by_file"] == rows


def test_results_markdown_marks_what_falls_short_and_what_is_missing():
    machine = {"cores": 2, "cpu": "cpu", "python": "3.11", "numpy": "2", "blas": "openblas",
               "torch": "2.13", "device": "cpu", "commit": "abc1234",
               "date": "2026-12-07"}  # fmt: skip
    results = {
        "fast/01_knn/knn": {"wall_s": 12.0, "cpu_s": 11.0, "kernel_start_s": 1.0, "error": None,
                            "machine": machine},  # fmt: skip
        "fast/02_linear/svm": {"wall_s": 41.0, "cpu_s": 40.0, "kernel_start_s": 1.0,
                               "error": None, "machine": machine},  # fmt: skip
        "full/01_knn/knn": {"wall_s": 90.0, "cpu_s": 100.0, "kernel_start_s": 1.0, "error": None,
                            "machine": machine, "targets": [
                                {"name": "test accuracy", "value": 0.81, "bar": 0.9,
                                 "higher_is_better": True, "stated": 0.93, "note": ""}]},
    }  # fmt: skip
    ids = ["fast/01_knn/knn", "fast/02_linear/svm", "fast/03_backprop/backprop", "full/01_knn/knn"]
    text = report.results_markdown(results, ids, machine)
    fast_section = text.split("## 2.")[0]
    fast_rows = {row.split(" |")[0]: row for row in fast_section.splitlines() if row[:3] == "| 0"}
    assert fast_rows["| 01_knn/knn"].endswith("| yes |")
    assert fast_rows["| 02_linear/svm"].endswith("| **no** |")
    assert "Not measured: 03_backprop/backprop." in text
    assert "Short of the bar: 01_knn/knn: test accuracy." in text
    assert "## 3. Class grading\n\nNot measured." in text
