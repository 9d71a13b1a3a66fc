"""Tests of cs231n_lib.codescan: what a function's source calls, read statically.

Unit tests on small sources, then every own-implementation and no-loops check of every
solution notebook, read from the notebooks without running them: the solution passes with
any local names, and fails once a forbidden call is inserted.
"""

from __future__ import annotations

import ast
import functools
import json
import keyword
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from cs231n_lib import checks, codescan
from cs231n_lib.codescan import ImplementationSource, Use
from cs231n_lib.grading.notebooks import python_source

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
NOTEBOOK_ALIASES = {"np": "numpy", "F": "torch.nn.functional", "sys": "sys"}
BAD_NAMES = ["grad", "backward", "fold", "softmax", "normalize", "norm", "cdist"]


def impl(source: str, name: str = "f", helpers=None, aliases=None) -> ImplementationSource:
    return ImplementationSource(
        name,
        textwrap.dedent(source),
        {key: textwrap.dedent(text) for key, text in (helpers or {}).items()},
        NOTEBOOK_ALIASES if aliases is None else aliases,
    )


def paths(source: str, **kwargs) -> set[str]:
    return {use.path for use in codescan.scan(impl(source, **kwargs)).uses}


def hits(source: str, forbidden: list[str], **kwargs) -> list[str]:
    found = codescan.scan(impl(source, **kwargs)).uses
    return [entry for entry, _ in codescan.forbidden_uses(found, forbidden)]


# --- resolving names -----------------------------------------------------------------------


def test_module_alias_attribute_chain_is_a_dotted_path():
    found = paths("def f(x):\n    return np.linalg.norm(x)\n")
    assert "numpy.linalg.norm" in found
    assert "x" not in found and "f" not in found


def test_aliases_of_a_notebook_come_from_its_cells():
    cells = [
        "%matplotlib inline\nimport numpy as np\nimport scipy.spatial",
        "from scipy.spatial.distance import cdist as d\ndist = np.linalg.norm",
        "from functools import partial\nmetric = partial(d, metric='cityblock')",
        "X_train = np.zeros(3)\ndef helper(x):\n    return x\n",
        "def broken(:\n",  # not Python: skipped
    ]
    aliases, definitions = codescan.notebook_bindings(cells)
    assert aliases["np"] == "numpy" and aliases["scipy"] == "scipy"
    assert aliases["d"] == "scipy.spatial.distance.cdist"
    assert aliases["dist"] == "numpy.linalg.norm"
    assert aliases["metric"] == "scipy.spatial.distance.cdist"
    assert "X_train" not in aliases and set(definitions) == {"helper"}
    source = "def f(x, y):\n    return d(x, y) + dist(x) + metric(x, y) + scipy.spatial.x\n"
    found = codescan.scan(impl(source, aliases=aliases)).uses
    assert {"scipy.spatial.distance.cdist", "numpy.linalg.norm", "scipy.spatial.x"} <= {
        use.path for use in found
    }
    assert [u.text for u in found if u.path == "numpy.linalg.norm"] == ["dist"]


def test_a_later_binding_replaces_an_earlier_one():
    aliases, definitions = codescan.notebook_bindings(
        ["from scipy.spatial.distance import cdist", "def cdist(a, b):\n    return a - b\n"]
    )
    assert "cdist" not in aliases and "cdist" in definitions
    aliases, definitions = codescan.notebook_bindings(["def norm(v):\n    return v", "norm = 3"])
    assert "norm" not in aliases and "norm" not in definitions


def test_imports_inside_the_function():
    source = """
    def f(x, y):
        import scipy.spatial.distance as ssd
        from scipy.spatial.distance import cdist as mine
        import torch
        return ssd.pdist(x), mine(x, y), torch.cdist(x, y)
    """
    found = paths(source)
    assert {"scipy.spatial.distance.pdist", "scipy.spatial.distance.cdist", "torch.cdist"} <= found
    assert hits(source, ["cdist", "pdist", "torch", "ssd", "mine"]) == ["cdist", "pdist", "torch"]


def test_getattr_with_a_constant_name():
    source = "def f(x):\n    return getattr(np.linalg, 'no' + 'rm')(x)\n"
    assert "numpy.linalg.norm" in paths(source)
    source = "def f(x):\n    return getattr(getattr(np, 'linalg'), 'norm')(x)\n"
    assert hits(source, ["norm", "linalg"]) == ["norm", "linalg"]
    assert paths("def f(x):\n    return getattr(x, 'argsort')()\n") >= {".argsort"}


def test_import_module_and_dunder_import():
    source = """
    def f(x, y):
        import importlib
        a = importlib.import_module("scipy.spatial").distance.cdist(x, y)
        b = __import__("sklearn.metrics").metrics.pairwise_distances(x)
        c = __import__("scipy.special", fromlist=["softmax"]).softmax(x)
        return a, b, c
    """
    found = paths(source)
    assert {
        "scipy.spatial.distance.cdist",
        "sklearn.metrics.pairwise_distances",
        "scipy.special.softmax",
    } <= found
    assert hits(source, ["cdist", "pairwise_distances", "softmax", "sklearn"]) == [
        "cdist",
        "pairwise_distances",
        "softmax",
        "sklearn",
    ]


def test_from_importlib_import_module_alias():
    source = "def f(x):\n    return im('torch').cdist(x, x)\n"
    assert hits(source, ["torch"], aliases={"im": "importlib.import_module"}) == ["torch"]


def test_lookups_through_namespaces():
    source = """
    def f(x):
        a = sys.modules["scipy.spatial.distance"].cdist
        b = vars(np)["linalg"].norm
        c = np.__dict__["fft"]
        d = globals()["np"].argsort
        return a, b, c, d
    """
    assert hits(source, ["cdist", "norm", "fft", "argsort"]) == ["cdist", "norm", "fft", "argsort"]


def test_operator_attrgetter_and_methodcaller():
    source = """
    def f(x):
        import operator
        return operator.attrgetter("linalg.norm")(np)(x), operator.methodcaller("argsort")(x)
    """
    assert hits(source, ["norm", ".argsort"]) == ["norm", ".argsort"]


def test_eval_of_a_constant_string_is_read():
    source = "def f(x):\n    return eval('np.linalg.norm(x)')\n"
    assert hits(source, ["norm"]) == ["norm"]


def test_local_aliases_of_modules_and_functions():
    source = """
    def f(x, lin=np.linalg):
        la = np.linalg
        fn = la.norm
        return fn(x) + lin.svd(x)
    """
    found = paths(source)
    assert {"numpy.linalg.norm", "numpy.linalg.svd"} <= found
    assert not found & {"fn", "la", "lin", ".norm"}


# --- never local names ---------------------------------------------------------------------


def test_locals_and_parameters_with_forbidden_names_pass():
    source = """
    def f(grad, backward, *fold, softmax=None, **normalize):
        norm = grad @ backward.T
        cdist = norm.sum(axis=1)
        for grad in fold:
            cdist = cdist + grad
        normalize = [softmax for softmax in fold]
        def unfold(torch):
            return torch
        return unfold(cdist), (lambda sklearn: sklearn)(normalize)
    """
    forbidden = [*BAD_NAMES, "unfold", "torch", "sklearn"]
    assert hits(source, forbidden) == []
    # Attributes of local values are methods, not local names: `.sum` and `.T` are reported.
    assert {".sum", ".T"} <= paths(source)


def test_own_name_is_never_reported():
    source = "def conv1d(x, w):\n    return conv1d(x[1:], w) if len(x) > 3 else np.zeros(1)\n"
    assert hits(source, ["conv1d"], name="conv1d") == []
    assert hits(source.replace("np.zeros", "F.conv1d"), ["conv1d"], name="conv1d") == ["conv1d"]


def test_a_default_is_read_outside_the_function():
    # The default `cdist` is the library function; the parameter `cdist` is a local.
    source = "def f(x, cdist=cdist, *, norm=np.linalg.norm):\n    return cdist(x, x) + norm(x)\n"
    found = codescan.scan(impl(source, aliases={"np": "numpy", "cdist": "scipy.cdist"})).uses
    assert [(u.path, u.line, u.called) for u in found if u.text in ("cdist", "norm")] == [
        ("scipy.cdist", 1, False),
        ("scipy.cdist", 2, True),
        ("numpy.linalg.norm", 2, True),
    ]


def test_a_parameter_named_np_shadows_the_module_without_crashing():
    source = "def f(x, np):\n    return np.linalg.norm(x)\n"
    assert "numpy.linalg.norm" not in paths(source)
    assert hits(source, ["norm"]) == ["norm"]  # still the attribute .norm of a value
    source = "def f(x, np=np):\n    return np.linalg.norm(x)\n"
    assert "numpy.linalg.norm" in paths(source)


def test_names_bound_in_class_bodies_and_globals():
    source = """
    def f(x):
        global cdist
        class Holder:
            norm = 1
            def method(self):
                return norm(x)
        return cdist(x), Holder
    """
    found = paths(source, aliases={"norm": "numpy.linalg.norm", "cdist": "scipy.cdist"})
    assert {"numpy.linalg.norm", "scipy.cdist"} <= found


# --- nested code, helpers, classes -----------------------------------------------------------


def test_nested_functions_lambdas_and_comprehensions():
    source = """
    def f(x):
        def inner(a):
            return np.linalg.norm(a)
        g = lambda a: F.conv2d(a)
        return [np.fft.fft(v) for v in x], inner(x), g(x)
    """
    found = codescan.scan(impl(source)).uses
    by_path = {use.path: use for use in found}
    assert by_path["numpy.linalg.norm"].function == "f.inner"
    assert by_path["numpy.linalg.norm"].line == 4
    assert {"torch.nn.functional.conv2d", "numpy.fft.fft"} <= set(by_path)


def test_a_forbidden_call_only_in_a_helper_is_found():
    helpers = {
        "dist": "def dist(a, b):\n    return deeper(a) - b\n",
        "deeper": "def deeper(a):\n    return np.linalg.norm(a)\n",
        "unused": "def unused():\n    return F.conv2d\n",
    }
    source = "def f(x):\n    return dist(x, x)\n"
    found = codescan.scan(impl(source, helpers=helpers)).uses
    norm = next(use for use in found if use.path == "numpy.linalg.norm")
    assert norm.function == "deeper" and norm.line == 2
    assert {"dist", "deeper"} <= {use.path for use in found if use.kind == "notebook"}
    assert "torch.nn.functional.conv2d" not in {use.path for use in found}


def test_cycles_between_helpers_end():
    helpers = {
        "ping": "def ping(n):\n    return pong(n - 1) if n else f(n)\n",
        "pong": "def pong(n):\n    return ping(n) + np.linalg.norm(n)\n",
    }
    source = "def f(n):\n    return ping(n)\n"
    assert hits(source, ["norm", "f"], helpers=helpers) == ["norm"]


def test_a_notebook_function_matches_by_its_whole_name():
    helpers = {"batchnorm_backward": "def batchnorm_backward(d, c):\n    return d\n"}
    source = "def batchnorm_backward_alt(d, c):\n    return batchnorm_backward(d, c)\n"
    forbidden = ["batchnorm_backward", "backward"]
    assert hits(source, forbidden, name="batchnorm_backward_alt", helpers=helpers) == [
        "batchnorm_backward"
    ]


def test_classes_are_read_with_all_their_methods():
    source = """
    class Net(Base):
        scale = 2
        def forward(self, x):
            return self.layer(x) * self.scale
        def backward(self, d):
            return helper(d)
    """
    helpers = {
        "Base": "class Base:\n    def layer(self, x):\n        return F.linear(x)\n",
        "helper": "def helper(d):\n    return d.backward()\n",
    }
    found = codescan.scan(impl(source, name="Net", helpers=helpers)).uses
    assert {".layer", ".scale", "torch.nn.functional.linear", ".backward"} <= {
        use.path for use in found
    }
    assert next(u for u in found if u.path == ".backward").function == "helper"
    assert hits(source, ["forward", "scale", "linear"], name="Net", helpers=helpers) == [
        "scale",  # self.scale: an attribute, reported as .scale
        "linear",
    ]


def test_method_calls_on_local_values():
    source = "def f(x):\n    order = x.argsort(axis=1)\n    return order[:, :3].copy().ravel()\n"
    found = codescan.scan(impl(source)).uses
    assert {".argsort", ".copy", ".ravel"} <= {use.path for use in found}
    assert all(use.called for use in found if use.path == ".argsort")
    assert hits(source, ["argsort"]) == ["argsort"] and hits(source, [".argsort"]) == [".argsort"]


def test_a_whole_cell_as_source():
    cell = "import numpy as np\n\ndef helper(v):\n    return v\n\ndef f(x):\n    return np.sum(x)\n"
    found = codescan.scan(ImplementationSource("f", cell)).uses
    assert {use.path for use in found} >= {"numpy.sum"}


# --- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path", "kind", "expected"),
    [
        ("cdist", "scipy.spatial.distance.cdist", "library", True),
        ("torch", "torch.nn.functional.conv2d", "library", True),
        ("sklearn", "sklearn.neighbors.KNeighborsClassifier", "library", True),
        ("scipy.spatial", "scipy.spatial.distance.cdist", "library", True),
        ("nn.Module", "torch.nn.modules.module.Module", "library", True),
        ("spatial.scipy", "scipy.spatial.distance.cdist", "library", False),
        ("dist", "scipy.spatial.distance.cdist", "library", False),
        ("argsort", ".argsort", "attribute", True),
        (".argsort", ".argsort", "attribute", True),
        (".argsort", "numpy.argsort", "library", False),
        ("backward", "batchnorm_backward", "notebook", False),
        ("batchnorm_backward", "batchnorm_backward", "notebook", True),
        ("cdist", "cdist", "global", True),
    ],
)
def test_matches(entry, path, kind, expected):
    assert codescan.matches(entry, Use(path, kind, path, 1, "f")) is expected


def test_forbidden_uses_prefer_calls_and_keep_the_order_of_the_list():
    found = [
        Use("scipy.cdist", "library", "cdist", 1, "f"),
        Use("numpy.linalg.norm", "library", "np.linalg.norm", 5, "f", called=True),
        Use("scipy.cdist", "library", "cdist", 3, "f", called=True),
    ]
    result = codescan.forbidden_uses(found, ["norm", "cdist", "cdist", "pdist"])
    assert [(entry, use.line) for entry, use in result] == [("norm", 5), ("cdist", 3)]


# --- dynamic lookups, loops ------------------------------------------------------------------


def test_dynamic_lookups_are_described():
    cell = """
    import importlib
    name = "linalg"
    def f(x, attr):
        a = getattr(np, name)
        setattr(x, attr, 1)
        b = importlib.import_module(attr)
        c = __import__(attr)
        eval("x"), exec("y = 1"), compile("1", "<s>", "eval")
        d = globals(), vars(x), locals()
        e = x.__dict__, sys.modules, __builtins__
        return getattr(np, "linalg"), importlib.import_module("scipy")
    top = getattr(np, name)
    """
    flags = codescan.dynamic_lookups(textwrap.dedent(cell), {"np": "numpy", "sys": "sys"})
    expected = [
        "f, line 5: getattr with a computed name (`getattr(np, name)`)",
        "f, line 6: setattr with a computed name",
        "f, line 7: an import of a computed module name (`importlib.import_module(attr)`)",
        "f, line 8: an import of a computed module name (`__import__(attr)`)",
        "f, line 9: eval()",
        "f, line 9: exec()",
        "f, line 9: compile()",
        "f, line 10: a lookup through globals()",
        "f, line 10: a lookup through vars()",
        "f, line 10: a lookup through locals()",
        "f, line 11: a lookup in `__dict__`",
        "f, line 11: a lookup in `sys.modules`",
        "f, line 11: a lookup in `__builtins__`",
        "line 13: getattr with a computed name",
    ]
    assert len(flags) == len(expected), flags
    for flag, start in zip(flags, expected, strict=True):
        assert flag.startswith(start), (flag, start)


def test_constant_lookups_are_not_flagged():
    source = "def f(x):\n    return getattr(np, 'linalg').norm(x), __import__('scipy')\n"
    assert codescan.scan(impl(source)).flags == []


def test_loops_of_every_kind():
    source = """
    def f(x):
        total = sum(v for v in x)
        def inner():
            while True:
                break
        return {k: v for k, v in x}, [v for v in x], {v for v in x}, total, inner
    """
    assert codescan.loops(impl(source)) == [
        "a generator expression in line 3",
        "a `while` loop in line 5",
        "a dict comprehension in line 7",
        "a list comprehension in line 7",
        "a set comprehension in line 7",
    ]
    assert codescan.loops(impl("def f(x):\n    return (x ** 2).sum(axis=1)\n")) == []


# --- the default lookup ----------------------------------------------------------------------


class _Module:
    """A class of this file, read with its methods."""

    def distances(self, X):
        return np_alias.linalg.norm(X)


np_alias = __import__("numpy")


def test_source_of_a_class_falls_back_to_its_methods(monkeypatch):
    original = codescan.inspect.getsource

    def no_class_source(obj):
        if isinstance(obj, type):
            raise TypeError("a class defined in a notebook cell")  # as Python 3.11 in IPython
        return original(obj)

    monkeypatch.setattr(codescan.inspect, "getsource", no_class_source)
    found = codescan.source_of(_Module)
    assert found.source.startswith("class _Module:\n    def distances(self, X):")
    assert found.aliases["np_alias"] == "numpy"
    assert hits(found.source, ["norm"], name="_Module", aliases=found.aliases) == ["norm"]


def test_source_of_reads_helpers_lazily_and_closure_variables():
    import scipy.spatial.distance

    far = scipy.spatial.distance.cdist

    def student(X):
        return far(X, X) + hits(X, X)

    found = codescan.source_of(student)
    assert found.aliases["far"] == "scipy.spatial.distance.cdist"
    assert "hits" in found.helpers and found.helpers["hits"].startswith("def hits(")
    assert "impl" in found.helpers and "student" not in found.helpers
    with pytest.raises(TypeError):
        codescan.source_of(len)


# --- every check of every solution notebook --------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One assert_own_implementation / assert_no_loops call in a test cell of a notebook."""

    notebook: str  # "01_knn/knn.ipynb"
    check: str  # the function the test cell calls
    name: str  # the solution function it checks
    forbidden: tuple[str, ...]  # empty for assert_no_loops

    def __str__(self) -> str:
        return f"{self.notebook}:{self.name}:{self.check}"


def _code_cells(path: Path) -> list[tuple[dict, str]]:
    nb = json.loads(path.read_text())
    return [
        (cell["metadata"].get("nbgrader", {}), "".join(cell["source"]))
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
    ]


def _literal_before(tree: ast.Module, name: str, line: int):
    """The literal last assigned to `name` in `tree` before `line`."""
    value = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and node.lineno < line:
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                value = ast.literal_eval(node.value)
    if value is None:
        raise AssertionError(f"no literal assigned to {name} before line {line}")
    return value


def _targets(tree: ast.Module, arg: ast.expr, solutions: set[str]) -> list[str]:
    """The solution functions `arg` of a check names: itself, or what a for loop runs it over."""
    if isinstance(arg, ast.Name) and arg.id in solutions:
        return [arg.id]
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            if isinstance(arg, ast.Name) and node.target.id == arg.id:
                return [elt.id for elt in node.iter.elts if isinstance(elt, ast.Name)]
    raise AssertionError(f"cannot tell which solution function {ast.unparse(arg)} is")


def _sites(path: Path) -> list[Site]:
    cells = _code_cells(path)
    _, definitions = codescan.notebook_bindings(s for meta, s in cells if meta.get("solution"))
    found = []
    for meta, source in cells:
        if meta.get("solution"):
            continue
        tree = ast.parse(python_source(source))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in ("assert_own_implementation", "assert_no_loops"):
                continue
            forbidden = ()
            if node.func.id == "assert_own_implementation":
                arg = node.args[1] if len(node.args) > 1 else node.keywords[0].value
                if isinstance(arg, ast.Name):
                    forbidden = tuple(_literal_before(tree, arg.id, node.lineno))
                else:
                    forbidden = tuple(ast.literal_eval(arg))
            for name in _targets(tree, node.args[0], set(definitions)):
                notebook = str(path.relative_to(REPO / "solutions"))
                found.append(Site(notebook, node.func.id, name, forbidden))
    return found


SITES = [site for path in SOLUTIONS for site in _sites(path)]


def test_the_notebooks_have_checks_to_test():
    assert len(SITES) >= 55, f"only {len(SITES)} checks found in the solution notebooks"
    assert {site.check for site in SITES} == {"assert_own_implementation", "assert_no_loops"}


@functools.cache
def _bindings(notebook: str) -> tuple[dict[str, str], dict[str, str]]:
    """(aliases from every code cell, definitions from the solution cells) of `notebook`."""
    cells = _code_cells(REPO / "solutions" / notebook)
    aliases, _ = codescan.notebook_bindings(source for _, source in cells)
    _, definitions = codescan.notebook_bindings(s for meta, s in cells if meta.get("solution"))
    return aliases, definitions


def _notebook_source(site: Site) -> ImplementationSource:
    """The solution's `site.name` as the grader reads it: solution cells, all import lines."""
    aliases, definitions = _bindings(site.notebook)
    helpers = {key: text for key, text in definitions.items() if key != site.name}
    return ImplementationSource(site.name, definitions[site.name], helpers, aliases)


def _function(tree: ast.Module, name: str):
    return next(n for n in tree.body if isinstance(n, codescan._DEFINITIONS) and n.name == name)


def _first_method(cls: ast.ClassDef) -> ast.FunctionDef:
    """The first method of a class (after its docstring and class attributes)."""
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def _bound_names(func) -> tuple[list[str], set[str]]:
    """(names bound inside `func`, in first-seen order; names it reads but never binds)."""
    bound, loaded, declared = {}, set(), set()
    for node in ast.walk(func):
        if node is func:
            continue
        if isinstance(node, ast.arg):
            bound[node.arg] = None
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.add(node.id)
            else:
                bound[node.id] = None
        elif isinstance(node, codescan._DEFINITIONS):
            bound[node.name] = None
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared.update(node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            loaded.update(a.asname or a.name.split(".")[0] for a in node.names)  # kept
    for arg in ast.walk(func.args) if isinstance(func, ast.FunctionDef) else ():
        if isinstance(arg, ast.arg):
            bound.setdefault(arg.arg, None)
    return [name for name in bound if name not in declared], loaded - set(bound)


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.mapping.get(node.arg, node.arg)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef


def _renamings(source: str, name: str, words: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Sources of `name` with its locals and parameters renamed to `words`, every local in turn.

    Round r gives locals r*n ... r*n + n - 1 (n = len(words)) a word each and the others a
    neutral name, so that each local carries a forbidden word in one of the sources.
    """
    tree = ast.parse(textwrap.dedent(source))
    func = _function(tree, name)
    names, globals_read = _bound_names(func)
    words = [w for w in dict.fromkeys(words) if w not in globals_read and w not in names]
    results = []
    for start in range(0, len(names), len(words)):
        mapping = {local: f"_v{index}" for index, local in enumerate(names)}
        mapping.update(zip(names[start : start + len(words)], words, strict=False))
        renamed = ast.parse(textwrap.dedent(source))
        _Renamer(mapping).visit(_function(renamed, name))
        results.append((ast.unparse(renamed), mapping))
    return results


def _identifier_words(site: Site) -> list[str]:
    words = [*site.forbidden, *BAD_NAMES]
    return [w for w in words if w.isidentifier() and not keyword.iskeyword(w)]


def _check(site: Site, source: ImplementationSource) -> None:
    """Run the site's check the way a test cell does, with `source` as what it reads."""
    previous = checks.set_source_lookup(lambda func: source)
    try:
        if site.check == "assert_no_loops":
            checks.assert_no_loops(object())
        else:
            checks.assert_own_implementation(object(), list(site.forbidden))
    finally:
        checks.set_source_lookup(previous)


def _with_statements(source: str, name: str, code: str) -> str:
    """`source` with the statements `code` first in the body of `name` (after its docstring)."""
    tree = ast.parse(textwrap.dedent(source))
    func = _function(tree, name)
    body = func.body if isinstance(func, ast.FunctionDef) else _first_method(func).body
    first = body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    body[int(docstring) : int(docstring)] = ast.parse(code).body
    return ast.unparse(tree)


def _first_parameter(source: str, name: str) -> str:
    func = _function(ast.parse(textwrap.dedent(source)), name)
    args = func.args if isinstance(func, ast.FunctionDef) else _first_method(func).args
    return [*args.posonlyargs, *args.args][0].arg


def _insertions(site: Site, source: ImplementationSource, word: str) -> dict[str, str]:
    """Ways to use `word` in the solution's source, each of which the check must catch."""
    numpy = next((name for name, path in source.aliases.items() if path == "numpy"), None)
    names, _ = _bound_names(_function(ast.parse(source.source), site.name))
    param = _first_parameter(source.source, site.name)
    ways = {
        "dunder import": f"_ = __import__({word!r})",
        "import_module": f"import importlib\n_ = importlib.import_module('lib.{word}')",
        "from-import": f"from somewhere import {word} as renamed\n_ = renamed(0)",
        "method": f"_ = {param}.{word}(0)",
    }
    if numpy is not None:
        ways["getattr"] = f"_ = getattr({numpy}, {word!r})(0)"
        ways["attribute chain"] = f"_ = {numpy}.linalg.{word}(0)"
    if word not in names and word != site.name:  # a notebook function, an import or unknown
        ways["global"] = f"_ = {word}(0)"
    return ways


@pytest.mark.parametrize("site", SITES, ids=str)
def test_solution_passes_its_check_whatever_its_local_names(site):
    source = _notebook_source(site)
    _check(site, source)
    renamings = _renamings(source.source, site.name, _identifier_words(site))
    for renamed, _ in renamings:
        _check(site, ImplementationSource(site.name, renamed, source.helpers, source.aliases))
    used = {new for _, mapping in renamings for new in mapping.values()}
    if site.forbidden and renamings:
        assert used & set(_identifier_words(site)), f"{site}: no local was given a forbidden word"


@pytest.mark.parametrize("site", SITES, ids=str)
def test_solution_fails_its_check_once_it_uses_what_is_forbidden(site):
    source = _notebook_source(site)
    if site.check == "assert_no_loops":
        for code in (
            "for _ in range(1):\n    pass",
            "_ = [v for v in ()]",
            "while False:\n    pass",
        ):
            changed = _with_statements(source.source, site.name, code)
            with pytest.raises(AssertionError, match=f"{site.name} contains a Python loop"):
                _check(
                    site, ImplementationSource(site.name, changed, source.helpers, source.aliases)
                )
        return
    renamed = _renamings(source.source, site.name, _identifier_words(site))
    renamed_source = renamed[0][0] if renamed else source.source
    for word in [w for w in _identifier_words(site) if w in site.forbidden]:
        for way, code in _insertions(site, source, word).items():
            for base in (source.source, renamed_source) if way == "getattr" else (source.source,):
                changed = _with_statements(base, site.name, code)
                changed_source = ImplementationSource(
                    site.name, changed, source.helpers, source.aliases
                )
                with pytest.raises(AssertionError) as info:
                    _check(site, changed_source)
                assert word in str(info.value), f"{site}, {way}: {info.value}"
        # Only in a helper of the notebook: the check reads the helpers it calls.
        helper = f"def sneaky_helper(v):\n    return __import__('lib').{word}(v)\n"
        changed = _with_statements(source.source, site.name, "_ = sneaky_helper(0)")
        helpers = {**source.helpers, "sneaky_helper": helper}
        with pytest.raises(AssertionError, match="of sneaky_helper"):
            _check(site, ImplementationSource(site.name, changed, helpers, source.aliases))
