"""The package a graded notebook's kernel imports holds no working version of what that
notebook asks for: stubs that name the notebook, in a copy that the sandbox shows in
place of the package."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cs231n_lib
from cs231n_lib import reference
from cs231n_lib.grading import limits, sandbox, withhold
from cs231n_lib.layers import affine_forward
from cs231n_lib.models import linear

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(cs231n_lib.__file__).resolve().parent
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
SVM = REPO / "solutions" / "02_linear" / "svm.ipynb"
SVM_LABEL = "02_linear/svm.ipynb"
# Lines of code found once in the package, in functions withheld for 02_linear/svm.ipynb:
# the SVM loss's gradient in models/linear.py, the oracle's hinge loss (withheld by name)
# and its cross-entropy (withheld as an oracle) in reference/losses.py.
SVM_LINES = (
    "dscores[rows, y] = -dscores.sum(axis=1)",
    "F.multi_margin_loss(x, y, p=1, margin=1.0)",
    "return F.cross_entropy(x, y)",
)
NEEDS_BWRAP = pytest.mark.skipif(
    not sandbox.detect_sandbox("auto").active, reason="bubblewrap is unavailable"
)

# Runs in a process that imports a copy: calls each stub it is given, with None for
# every argument without a default, and reports those that do not raise as they must.
CALL_STUBS = """
import importlib, inspect, json, sys

def arguments(fn, skip_first):
    params = list(inspect.signature(fn).parameters.values())[1 if skip_first else 0:]
    needed = [p for p in params if p.default is p.empty]
    args = [None for p in needed if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {p.name: None for p in needed if p.kind == p.KEYWORD_ONLY}
    return args, kwargs

def call(module, qualname):
    owner, obj = None, module
    for part in qualname.split("."):
        owner, obj = obj, (vars(obj)[part] if isinstance(obj, type) else getattr(obj, part))
    if isinstance(obj, type):
        args, kwargs = arguments(obj.__init__, True)
        return obj(*args, **kwargs)
    fn = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    args, kwargs = arguments(fn, False)
    return fn(*args, **kwargs)

def check(units, label):
    wrong = []
    for path, qualnames in units.items():
        name = "cs231n_lib." + path[:-3].replace("/", ".").removesuffix(".__init__")
        module = importlib.import_module(name)
        for qualname in qualnames:
            try:
                call(module, qualname)
            except NotImplementedError as exc:
                if label not in str(exc) or qualname.split(".")[-1] not in str(exc):
                    wrong.append(f"{name}.{qualname}: message {exc}")
            except Exception as exc:
                wrong.append(f"{name}.{qualname}: {type(exc).__name__}: {exc}")
            else:
                wrong.append(f"{name}.{qualname}: returned without raising")
    return wrong

def import_all(package_dir):
    import pkgutil
    failed = []
    for info in pkgutil.walk_packages([package_dir], "cs231n_lib."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
    return failed
"""


def _run_python(code: str, package_dir: Path | None, cwd: Path) -> dict:
    """Run `code` (after CALL_STUBS) with `package_dir`'s copy first on the path (None:
    the code puts a copy there itself); return the JSON object it prints last."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if package_dir is not None:
        env["PYTHONPATH"] = str(package_dir.parent)
    script = CALL_STUBS + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"the check failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def svm_copy(tmp_path_factory) -> Path:
    names = withhold.exercises(SVM)
    return withhold.withheld_package(names, SVM_LABEL, tmp_path_factory.mktemp("svm"))


def test_exercises_are_the_solution_cells_and_their_equivalents():
    assert withhold.solution_names(SVM) == {
        "preprocess",
        "svm_loss_naive",
        "svm_loss_vectorized",
        "LinearClassifier",
    }
    assert withhold.exercises(SVM) == withhold.solution_names(SVM) | {
        "svm_loss",
        "LinearSVM",
        "Softmax",
    }
    assert withhold.notebook_label(SVM) == SVM_LABEL


def _package_definitions() -> set[str]:
    names = set()
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
    return names


def test_equivalents_name_real_exercises_and_real_package_definitions():
    exercises = set().union(*(withhold.solution_names(nb) for nb in SOLUTIONS))
    defined = _package_definitions()
    for exercise, others in withhold.EQUIVALENTS.items():
        assert exercise in exercises, f"EQUIVALENTS[{exercise!r}]: no notebook asks for it"
        missing = set(others) - defined
        assert not missing, f"EQUIVALENTS[{exercise!r}] names {missing}, not in cs231n_lib"


def test_svm_copy_withholds_the_losses_and_keeps_the_layers(svm_copy, tmp_path):
    rng = np.random.default_rng(0)
    W, X, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 5)), rng.integers(0, 3, 4)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(12, 5)), rng.normal(size=5)
    arrays = {"W": W, "X": X, "y": y, "x": x, "w": w, "b": b}
    np.savez(tmp_path / "arrays.npz", **arrays)
    report = _run_python(
        """
        import numpy as np, cs231n_lib
        from cs231n_lib import reference
        from cs231n_lib.layers import affine_forward
        from cs231n_lib.models import linear
        a = np.load("arrays.npz")
        raised = {}
        calls = {
            "svm_loss": lambda: linear.svm_loss(a["W"], a["X"], a["y"], 0.1),
            "LinearClassifier": lambda: linear.LinearClassifier(linear.softmax_loss),
            "LinearSVM": lambda: linear.LinearSVM(),
            "Softmax": lambda: linear.Softmax(),
        }
        for name, fn in calls.items():
            try:
                fn()
                raised[name] = "nothing"
            except NotImplementedError as exc:
                raised[name] = str(exc)
        oracles = {}
        for name in reference.__all__:
            try:
                call(reference, name)
                oracles[name] = "nothing"
            except NotImplementedError as exc:
                oracles[name] = str(exc)
        out, _ = affine_forward(a["x"], a["w"], a["b"])
        loss, _ = linear.softmax_loss(a["W"], a["X"], a["y"], 0.1)
        print(json.dumps({"file": cs231n_lib.__file__, "raised": raised, "oracles": oracles,
                          "affine": out.tolist(), "softmax": loss}))
        """,
        svm_copy,
        tmp_path,
    )
    assert Path(report["file"]).parent == svm_copy
    for name, message in report["raised"].items():
        assert message.startswith(name), message
        assert f"is what {SVM_LABEL} asks you to write" in message, message
    assert set(report["oracles"]) == set(reference.__all__)
    for name, message in report["oracles"].items():
        assert name in message and SVM_LABEL in message, f"reference.{name}: {message}"
    expected, _ = affine_forward(x, w, b)
    np.testing.assert_allclose(report["affine"], expected, rtol=1e-12)
    np.testing.assert_allclose(report["softmax"], linear.softmax_loss(W, X, y, 0.1)[0])


def test_withheld_code_is_in_no_file_of_the_copy(svm_copy):
    for line in SVM_LINES:
        holders = [p for p in PACKAGE.rglob("*.py") if line in p.read_text()]
        assert len(holders) == 1, f"pick another line: {line!r} is in {holders}"
    files = [p for p in svm_copy.rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".py" for p in files), "the copy holds non-.py files"
    for path in files:
        text = path.read_text()
        for line in SVM_LINES:
            assert line not in text, f"{path} still holds {line!r}"


def _is_stub(node) -> bool:
    """A def whose body is a docstring and `raise NotImplementedError(...)`, or a class
    made of such defs."""
    if isinstance(node, ast.ClassDef):
        defs = [n for n in node.body if not isinstance(n, ast.Expr)]
        return bool(defs) and all(_is_stub(n) for n in defs)
    body = node.body
    return (
        len(body) == 2
        and isinstance(body[1], ast.Raise)
        and ast.unparse(body[1].exc).startswith("NotImplementedError(")
    )


def _working_definitions(package_dir: Path, names: set[str]) -> list[str]:
    """Defs and classes of the copy named like an exercise (anywhere, at any depth) or at
    the top level of reference/, that are not stubs."""
    found = []
    for file in package_dir.rglob("*.py"):
        if file.relative_to(package_dir).parts[0] == "grading":
            continue  # the grader's own code: no exercise lives there (see withhold._plan)
        tree = ast.parse(file.read_text())
        oracle = file.relative_to(package_dir).parts[0] == "reference"
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if (node.name in names or (oracle and id(node) in top)) and not _is_stub(node):
                found.append(f"{file.relative_to(package_dir)}: {node.name}")
    return found


def test_every_notebook_copy_imports_and_holds_no_working_exercise(tmp_path):
    copies = {}
    for notebook in SOLUTIONS:
        names = withhold.exercises(notebook)
        label = withhold.notebook_label(notebook)
        package_dir = withhold.withheld_package(names, label, tmp_path / notebook.stem)
        working = _working_definitions(package_dir, names)
        assert not working, f"{label}: working definitions left in the copy: {working}"
        units = withhold.withheld_units(names)
        assert any(p.startswith("reference/") for p in units), label
        copies[label] = (str(package_dir), units)
    # One process imports each copy in turn (torch, numpy and nbgrader load once).
    report = _run_python(
        f"""
        copies = json.loads({json.dumps(json.dumps(copies))})
        report = {{}}
        for label, (package_dir, units) in copies.items():
            for name in [m for m in sys.modules if m.split(".")[0] == "cs231n_lib"]:
                del sys.modules[name]
            sys.path.insert(0, package_dir.rsplit("/", 1)[0])
            importlib.invalidate_caches()
            import cs231n_lib
            assert cs231n_lib.__file__.startswith(package_dir), cs231n_lib.__file__
            report[label] = import_all(package_dir) + check(units, label)
            sys.path.pop(0)
        print(json.dumps(report))
        """,
        None,
        tmp_path,
    )
    assert set(report) == set(copies)
    problems = {label: wrong for label, wrong in report.items() if wrong}
    assert not problems, f"copies that fail to import or have stubs that do not raise: {problems}"


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.py")}


def test_copies_built_one_after_another_equal_copies_built_alone(tmp_path, monkeypatch):
    # withheld_package keeps the parsed package per process (withhold._PARSED): a copy
    # built after others must not carry anything of theirs (flags, swapped lambdas).
    softmax = REPO / "solutions" / "02_linear" / "softmax.ipynb"
    label = "02_linear/softmax.ipynb"
    names = withhold.exercises(softmax)
    withhold.withheld_package(withhold.exercises(SVM), SVM_LABEL, tmp_path / "first")
    after = withhold.withheld_package(names, label, tmp_path / "after")
    monkeypatch.setattr(withhold, "_PARSED", {})
    alone = withhold.withheld_package(names, label, tmp_path / "alone")
    assert _files(after) == _files(alone)
    assert withhold.LAMBDA_STUB in "".join(_files(after).values()), "reference/ lost its stub"


def test_copy_is_built_once_per_names_and_label(tmp_path, monkeypatch):
    names = {"svm_loss"}
    first = withhold.cached_withheld_package(names, SVM_LABEL, tmp_path)
    built = []
    monkeypatch.setattr(withhold, "withheld_package", lambda *a, **k: built.append(a))
    assert withhold.cached_withheld_package(names, SVM_LABEL, tmp_path) == first
    assert not built, "the cached copy was built again"
    monkeypatch.undo()
    other = withhold.cached_withheld_package(names, "02_linear/softmax.ipynb", tmp_path)
    assert other != first and other.is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_arguments_are_explained(tmp_path):
    with pytest.raises(ValueError, match="one line of text"):
        withhold.withheld_package({"svm_loss"}, "a\nb", tmp_path)
    with pytest.raises(ValueError, match="identifiers"):
        withhold.withheld_package({"not a name"}, SVM_LABEL, tmp_path)
    with pytest.raises(TypeError, match="a set of identifiers"):
        withhold.withheld_package("svm_loss", SVM_LABEL, tmp_path)
    withhold.withheld_package({"svm_loss"}, SVM_LABEL, tmp_path)
    with pytest.raises(FileExistsError, match="exists already"):
        withhold.withheld_package({"svm_loss"}, SVM_LABEL, tmp_path)


# A small package for the rules on helpers, aliases, decorators and classes.
FAKE_MODULES = {
    "__init__.py": "",
    "core.py": """
        import functools

        def _shared(x):
            return x + 1

        def _only_for_secret(x):
            return _deeper(x) * 2

        def _deeper(x):
            return x - 3

        def _recursive(n):
            return 0 if n == 0 else _recursive(n - 1)

        def secret(x, scale=2.0, *, offset: float = 0.0):
            "The answer."
            return _only_for_secret(x) * scale + _shared(offset) + _recursive(3)

        def public(x):
            return _shared(x)

        @functools.lru_cache
        def cached_secret(x):
            return x * 7

        also_secret = secret
        FUNCTIONS = {"secret": secret}

        class Model:
            SIZE = 3

            def __init__(self, width):
                self.width = width

            def secret(self, x):
                return self._scale(x)

            def _scale(self, x):
                return x * self.width

            @property
            def doubled(self):
                return 2 * self.width

            @staticmethod
            def fit(x):
                return x + 100

        class Secret:
            class Inner:
                def run(self):
                    return 5

            @property
            def value(self):
                return 42

            @classmethod
            def make(cls):
                return cls()
    """,
    "other.py": """
        from fakepkg.core import secret as imported_secret, public

        renamed = imported_secret
        kept = public
    """,
}


@pytest.fixture
def fake_copy(tmp_path, monkeypatch):
    """The fake package with secret, cached_secret and Secret withheld, imported."""
    source = tmp_path / "src" / "fakepkg"
    source.mkdir(parents=True)
    for name, text in FAKE_MODULES.items():
        (source / name).write_text(textwrap.dedent(text))
    (source / "data.bin").write_bytes(b"\x00")
    names = {"secret", "cached_secret", "Secret"}
    copy = withhold.withheld_package(names, "00_demo/demo.ipynb", tmp_path / "out", source=source)
    units = withhold.withheld_units(names, source=source)
    monkeypatch.syspath_prepend(str(copy.parent))
    for name in [m for m in sys.modules if m.split(".")[0] == "fakepkg"]:
        monkeypatch.delitem(sys.modules, name)
    import fakepkg.core
    import fakepkg.other

    yield copy, units, fakepkg.core, fakepkg.other
    for name in [m for m in sys.modules if m.split(".")[0] == "fakepkg"]:
        del sys.modules[name]


def test_helpers_aliases_and_methods_follow_what_is_withheld(fake_copy):
    copy, units, core, other = fake_copy
    assert units == {
        "core.py": [
            "_only_for_secret",
            "_deeper",
            "_recursive",
            "secret",
            "cached_secret",
            "also_secret",
            "Model.secret",
            "Model._scale",
            "Secret",
            "Secret.Inner",
            "Secret.Inner.run",
            "Secret.value",
            "Secret.make",
        ],
        "other.py": ["renamed"],
    }
    assert sorted(p.name for p in copy.iterdir()) == ["__init__.py", "core.py", "other.py"]
    # What stays works; what only the withheld code used is gone with it.
    assert core.public(1) == 2 and other.kept(1) == 2
    assert core.Model(3).doubled == 6 and core.Model.fit(1) == 101 and core.Model.SIZE == 3
    message = "is what 00_demo/demo.ipynb asks you to write"
    calls = {
        "secret": lambda: core.secret(1),
        "_only_for_secret": lambda: core._only_for_secret(1),
        "_deeper": lambda: core._deeper(1),
        "_recursive": lambda: core._recursive(1),
        "cached_secret": lambda: core.cached_secret(1),
        "also_secret": lambda: core.also_secret(1),
        "FUNCTIONS": lambda: core.FUNCTIONS["secret"](1),
        "Model.secret": lambda: core.Model(2).secret(1),
        "Model._scale": lambda: core.Model(2)._scale(1),
        "Secret": lambda: core.Secret(),
        "Secret.make": lambda: core.Secret.make(),
        "Secret.Inner": lambda: core.Secret.Inner(),
        "renamed": lambda: other.renamed(1),
        "imported_secret": lambda: other.imported_secret(1),
    }
    wrong = []
    for name, call in calls.items():
        try:
            call()
            wrong.append(f"{name} returned")
        except NotImplementedError as exc:
            if message not in str(exc):
                wrong.append(f"{name}: {exc}")
    assert not wrong, f"these should raise the stub's message: {wrong}"


def test_stubs_keep_signatures_and_descriptors(fake_copy):
    import inspect

    copy, _, core, _ = fake_copy
    assert str(inspect.signature(core.secret)) == "(x, scale=2.0, *, offset: float = 0.0)"
    assert str(inspect.signature(core.also_secret)) == str(inspect.signature(core.secret))
    assert isinstance(vars(core.Secret)["value"], property)
    assert isinstance(vars(core.Secret)["make"], classmethod)
    assert core.Secret.__doc__.startswith("Secret is what 00_demo/demo.ipynb")
    text = (copy / "core.py").read_text()
    for gone in ("x * 7", "x - 3", "return 42", "return 5", "@functools", "x * self.width"):
        assert gone not in text, f"{gone!r} is still in the copy"
    assert "def _shared" in text and "return x + 1" in text  # public() still needs it


def test_kernel_command_binds_the_copy_over_the_package(tmp_path, svm_copy):
    args, env = sandbox.kernel_command(
        ["python"], limits.DEFAULT_LIMITS, tmp_path / "work", tmp_path / "kernel",
        bwrap="/usr/bin/bwrap", package_dir=svm_copy,
    )  # fmt: skip
    binds = [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == "--ro-bind"]
    onto_package = [i for i, (_, dest) in enumerate(binds) if dest == str(PACKAGE)]
    assert binds[onto_package[-1]][0] == str(svm_copy.resolve())
    # The copy goes on top: no bind of the package path or of a folder above it follows.
    later = [dest for _, dest in binds[onto_package[-1] + 1 :]]
    assert not [d for d in later if PACKAGE.is_relative_to(d)], later
    assert "PYTHONPATH" not in env
    _, env = sandbox.kernel_command(
        ["python"], limits.DEFAULT_LIMITS, tmp_path / "work", tmp_path / "kernel",
        package_dir=svm_copy,
    )  # fmt: skip
    assert env["PYTHONPATH"] == str(svm_copy.resolve().parent)
    with pytest.raises(ValueError, match="copy of the cs231n_lib package"):
        sandbox.kernel_command(
            ["python"], limits.DEFAULT_LIMITS, tmp_path, tmp_path, package_dir=tmp_path
        )


# What a hostile student tries from inside the sandbox to reach the withheld SVM loss.
LOOKUPS = """
import importlib, inspect, json, os, sys
from pathlib import Path
import numpy as np
import cs231n_lib
report = {"file": cs231n_lib.__file__}
W, X, y = np.ones((3, 2)), np.ones((4, 3)), np.zeros(4, dtype=int)
def attempt(name, fn):
    try:
        fn()
        report[name] = "returned"
    except NotImplementedError as exc:
        report[name] = str(exc)
import cs231n_lib.models.linear as linear
attempt("import", lambda: linear.svm_loss(W, X, y, 0.0))
module = importlib.import_module("cs231n_lib" + ".models" + ".linear")
attempt("importlib", lambda: getattr(module, "svm" + "_loss")(W, X, y, 0.0))
attempt("reference", lambda: importlib.import_module("cs231n_lib.reference").softmax_loss(X, y))
report["getsource"] = inspect.getsource(linear.svm_loss)
report["file_text"] = Path(linear.__file__).read_text()
root = Path(cs231n_lib.__file__).parent
files = [p for p in root.rglob("*") if p.is_file()]
report["files"] = {str(p): p.read_bytes().decode("utf-8", "replace") for p in files}
from cs231n_lib.layers import affine_forward
report["affine"] = affine_forward(np.ones((2, 3)), np.ones((3, 1)), np.zeros(1))[0].tolist()
print(json.dumps(report))
"""


def _lookups(package_dir: Path, tmp_path: Path, bwrap: str) -> dict:
    """Run LOOKUPS as a grading kernel would start, with the copy; return its report."""
    work, kernel = tmp_path / "work", tmp_path / "kernel"
    work.mkdir()
    kernel.mkdir()
    args, env = sandbox.kernel_command(
        [sys.executable, "-c", LOOKUPS], limits.DEFAULT_LIMITS, work, kernel, bwrap=bwrap,
        package_dir=package_dir,
    )  # fmt: skip
    done = subprocess.run(args, env=env, cwd=work, timeout=300)
    log = (kernel / "kernel.log").read_text()
    assert done.returncode == 0, f"the sandboxed process failed:\n{log[-4000:]}"
    return json.loads(log.strip().splitlines()[-1])


def _assert_only_stubs_seen(report: dict) -> None:
    for how in ("import", "importlib"):
        assert report[how].startswith(f"svm_loss is what {SVM_LABEL} asks"), report[how]
    assert SVM_LABEL in report["reference"], report["reference"]
    for text in (report["getsource"], report["file_text"], *report["files"].values()):
        for line in SVM_LINES:
            assert line not in text
    assert "raise NotImplementedError" in report["getsource"]
    assert not [f for f in report["files"] if f.endswith(".pyc")], "bytecode of the package"
    assert report["affine"] == [[3.0], [3.0]]


@NEEDS_BWRAP
def test_sandboxed_kernel_sees_only_the_stub(tmp_path, svm_copy):
    report = _lookups(svm_copy, tmp_path, sandbox.detect_sandbox("auto").bwrap)
    assert Path(report["file"]).parent == PACKAGE, "the copy is not at the package's path"
    copied = {str(PACKAGE / p.relative_to(svm_copy)) for p in svm_copy.rglob("*.py")}
    assert set(report["files"]) == copied, "the sandbox shows other files at the package's path"
    _assert_only_stubs_seen(report)


def test_unsandboxed_kernel_imports_the_copy(tmp_path, svm_copy):
    report = _lookups(svm_copy, tmp_path, "")
    assert Path(report["file"]).parent == svm_copy.resolve()
    _assert_only_stubs_seen(report)
