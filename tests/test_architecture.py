"""The layout of DESIGN.md, enforced: import contracts, a package top level without family
members, notebooks without copied helpers or `interact`, and ruff-clean notebooks."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import cs231n_lib
from cs231n_lib.grading.notebooks import python_source

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(cs231n_lib.__file__).parent
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
BIN = Path(sys.executable).parent

# Tools and single-concept modules; families (layers, models, blocks, reference, data,
# metrics, grading) are folders.
TOP_LEVEL_MODULES = {
    "__init__",
    "augmentation",
    "checks",
    "cli",
    "codescan",
    "config",
    "gradcheck",
    "optim",
    "solver",
    "vis",
    "widgets",
}
FAMILIES = {"blocks", "data", "grading", "layers", "metrics", "models", "reference"}


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(BIN)) or shutil.which("lint-imports")
    assert lint, "lint-imports not found: install the dev extra (pip install -e '.[dev]')"
    run = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, f"import-linter contracts broken:\n{run.stdout[-4000:]}"


def test_package_top_level_has_only_tools_and_family_folders():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules == TOP_LEVEL_MODULES, (
        f"unexpected top-level modules {sorted(modules - TOP_LEVEL_MODULES)} "
        f"(a family member belongs in its folder) or missing {sorted(TOP_LEVEL_MODULES - modules)}"
    )
    assert folders == FAMILIES, f"package folders {sorted(folders)}, expected {sorted(FAMILIES)}"


def _code_cells(path: Path) -> list[tuple[dict, str]]:
    nb = json.loads(path.read_text())
    return [
        (cell["metadata"].get("nbgrader", {}), "".join(cell["source"]))
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
    ]


def test_no_helper_is_defined_in_two_notebooks():
    # A function or class with the same code in two notebooks belongs in the package.
    # Solution cells are exempt: a later notebook may ask a student to write a variant.
    where = defaultdict(set)
    for path in SOLUTIONS:
        for meta, source in _code_cells(path):
            if meta.get("solution"):
                continue
            for node in ast.parse(python_source(source)).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef) and len(node.body) > 1:
                    key = (node.name, ast.dump(node))
                    where[key].add(str(path.relative_to(REPO)))
    copies = {name: sorted(paths) for (name, _), paths in where.items() if len(paths) > 1}
    assert not copies, (
        f"helpers defined in more than one notebook (move them to cs231n_lib): {copies}"
    )


def test_no_notebook_uses_interact():
    # ipywidgets.interact can stall a headless kernel: use cs231n_lib.widgets.controls.
    users = [
        str(path.relative_to(REPO))
        for path in SOLUTIONS
        if any("interact(" in source for _, source in _code_cells(path))
    ]
    assert not users, f"notebooks calling interact(): {users}; use cs231n_lib.widgets.controls"


def test_notebooks_are_ruff_clean():
    ruff = shutil.which("ruff", path=str(BIN)) or shutil.which("ruff")
    assert ruff, "ruff not found: install the dev extra (pip install -e '.[dev]')"
    run = subprocess.run(
        [ruff, "check", "--no-cache", "solutions"], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, f"ruff finds problems in solutions/:\n{run.stdout[-4000:]}"


def _package_names_used(tree: ast.AST) -> set[str]:
    """Names a cell takes from cs231n_lib: imported ones, and attributes of its modules."""
    used, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cs231n_lib"):
            for alias in node.names:
                used.add(alias.name)
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name.startswith("cs231n_lib")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in modules:
                used.add(node.attr)
    return used


def test_no_notebook_uses_the_packages_version_of_its_own_exercises():
    # Later cells run the student's function, so the grader can withhold the package's
    # versions; test cells may compare with oracles.
    offenders = {}
    for path in SOLUTIONS:
        cells = [(meta, ast.parse(python_source(source))) for meta, source in _code_cells(path)]
        exercises = {
            node.name
            for meta, tree in cells
            if meta.get("solution")
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        }
        used = set()
        for meta, tree in cells:
            if not meta.get("grade") and not meta.get("solution"):
                used |= _package_names_used(tree)
        if used & exercises:
            offenders[str(path.relative_to(REPO))] = sorted(used & exercises)
    assert not offenders, (
        f"cells outside tests use the package's version of an exercise: {offenders}"
    )


def test_what_every_notebook_imports_leaves_scipy_and_sklearn_unloaded():
    # Every notebook's set-up cell (and every grading process) imports these; scipy and
    # scikit-learn cost about half a second there, so the package imports them where used.
    code = (
        "import sys, cs231n_lib.data, cs231n_lib.blocks, cs231n_lib.checks, cs231n_lib.vis, "
        "cs231n_lib.metrics, cs231n_lib.layers\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'sklearn', 'skimage'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", (
        f"importing the package loads {done.stdout.strip()}: import it inside the function "
        "that needs it (see data/shapes.py's _gaussian_levels)"
    )
