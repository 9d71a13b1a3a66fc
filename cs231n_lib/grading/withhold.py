"""A copy of the package without the answers to the notebook being graded.

The package has working versions of what the notebooks ask students to write (the losses
of 02, the numpy layers of 03-06, the torch oracles of `reference/`, the training loop of
07). While a notebook is graded, its kernel imports a copy of the package in which each
of them is a stub: same signature, no body, and a NotImplementedError that names the
notebook. The code is not in the copy at all, so no lookup trick (getattr, importlib,
inspect.getsource, reading the file) finds it. Building blocks of other notebooks stay,
so a later notebook still runs (05 trains with 03's layers).

What the copy withholds for a notebook (`withheld_package`):
- every function, method or class, in any module, whose name is one of `exercises()`:
  the names the notebook's solution cells define, and the package's names for the same
  things (`EQUIVALENTS`);
- every function and class of `reference/`, and its module-level lambdas: the oracles
  belong to the trusted tests, never to student code;
- private helpers (`_name`) that only withheld code uses, and module-level aliases
  (`other = name`) of withheld things.
Everything else is copied as it is. Only `.py` files are copied (no bytecode, nothing
else that holds code).

Use: `exercises(source_notebook)` gives the names, `notebook_label(source_notebook)` the
label for the message, and `cached_withheld_package(names, label, cache_dir)` the copy,
built once per (names, label, package source); `sandbox.kernel_command(...,
package_dir=copy)` shows it to the kernel in place of the package.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cs231n_lib.grading.notebooks import nbgrader_metadata, python_source, read_notebook

PACKAGE = Path(__file__).resolve().parents[1]  # the cs231n_lib source folder
ORACLES = "reference"  # the subpackage whose every function is withheld, always

# Package names that do what an exercise asks under another name: withheld with it.
# Names of the exercise itself need no entry (every definition of that name is
# withheld). Checked against every notebook of solutions/ and every module; left out on
# purpose: 07 architectures' conv2d_cost vs blocks.count_parameters / count_multiply_adds
# (the notebook's own cells count parameters with them); 07 pytorch's convnet_forward,
# ConvNet, make_sequential_convnet vs models.ThreeLayerConvNet (numpy, no autograd, no
# nn.Module: it cannot stand in for them); 02 svm's LinearClassifier vs solver.Solver
# (a general trainer that draws other batches, not the classifier).
EQUIVALENTS: dict[str, tuple[str, ...]] = {
    # 02 svm: the vectorized SVM loss of models.linear (reference.svm_loss is an oracle).
    "svm_loss_naive": ("svm_loss",),
    "svm_loss_vectorized": ("svm_loss",),
    # 02 svm: the classifier's train/predict, inherited by the package's two subclasses.
    "LinearClassifier": ("LinearSVM", "Softmax"),
    # 02 softmax: models.linear.softmax_loss(W, X, y, reg), and layers.softmax_loss on
    # scores X @ W (the loss and dscores, from which dW = X.T @ dscores is one line).
    "softmax_loss_naive": ("softmax_loss",),
    "softmax_loss_vectorized": ("softmax_loss",),
    # 03 backprop: Value's sigmoid and tanh are 04's elementwise layers on one number.
    "sigmoid": ("sigmoid_forward", "sigmoid_backward"),
    "tanh": ("tanh_forward", "tanh_backward"),
    "relu": ("relu_forward", "relu_backward"),
    # 03 backprop: a FullyConnectedNet with one hidden ReLU layer is the TwoLayerNet,
    # regularization convention included.
    "TwoLayerNet": ("FullyConnectedNet",),
    # 04 fully_connected: the initializers init_weights dispatches to, one per method.
    "init_weights": ("gaussian", "small_random", "xavier", "he"),
    # 05 augmentation: the deterministic cores of the random transforms, and the torch
    # twins in blocks.augmentation (a tensor in, a tensor out: the same images).
    "random_crop": ("crop_with_padding", "random_crop_torch", "crop_with_padding_torch"),
    "random_horizontal_flip": (
        "horizontal_flip",
        "random_horizontal_flip_torch",
        "horizontal_flip_torch",
    ),
    # 05 augmentation: color_jitter_torch with a generator that returns chosen factors
    # applies any brightness, contrast or saturation factor.
    "adjust_brightness": ("color_jitter_torch",),
    "adjust_contrast": ("color_jitter_torch",),
    "adjust_saturation": ("color_jitter_torch",),
    "color_jitter": ("color_jitter_torch",),
    # 05 augmentation: rotate is _source_coordinates (withheld as its helper) followed
    # by bilinear_sample; rotate_torch is the same rotation by grid_sample.
    "rotate": ("bilinear_sample", "rotate_torch", "random_rotation_torch"),
    "random_rotation": ("random_rotation_torch",),
    # 06 convolution: the package's pooling layers are the naive ones, vectorized.
    "max_pool_forward_naive": ("max_pool_forward",),
    "max_pool_backward_naive": ("max_pool_backward",),
    "avg_pool_forward_naive": ("avg_pool_forward",),
    "avg_pool_backward_naive": ("avg_pool_backward",),
    # 07 pytorch: the numpy two-layer nets return the same loss and gradients (both use
    # the 0.5 * reg penalty of 03).
    "two_layer_net_grads": ("TwoLayerNet", "FullyConnectedNet"),
    # 07 pytorch: blocks.training's loop (make_loader and evaluate share their names).
    "train_one_epoch": ("train_epoch",),
    # 09 attention: layers.attention's weights are the forward pass but for the product
    # with V (its masked_softmax stays: additive attention, which the notebook compares
    # with, uses it); blocks.attention's sinusoids are the encoding's buffer.
    "attention_forward": ("attention_weights",),
    "PositionalEncoding": ("sinusoids",),
    # 11 semantic: blocks.segmentation's torch initializer is the same bilinear kernel.
    "bilinear_kernel": ("bilinear_weights",),
    # 12 vae: blocks.vae's reparameterized draw and negative ELBO (the defaults of train_vae
    # and evaluate_vae for later notebooks; vae.ipynb passes the student's own).
    "reparametrize": ("sample_gaussian",),
    "loss_function": ("negative_elbo",),
    # 15 style_transfer: blocks.understanding's total-variation prior of feature inversion
    # (means instead of sums, but one line from the student's tv_loss).
    "tv_loss": ("_tv",),
}

# Decorators a stub keeps: they make a method what it is (others may run withheld code).
DESCRIPTORS = {"staticmethod", "classmethod", "property", "cached_property", "abstractmethod"}
LAMBDA_STUB = "_withheld_lambda"  # replaces the module-level lambdas of reference/


def solution_names(source_notebook: Path) -> set[str]:
    """Top-level def and class names of the notebook's solution cells (nbgrader
    metadata solution: true). Raises ValueError for a solution cell that is not Python."""
    nb = read_notebook(Path(source_notebook))
    names: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not nbgrader_metadata(cell).get("solution"):
            continue
        try:
            tree = ast.parse(python_source(cell.source))
        except SyntaxError as exc:
            raise ValueError(
                f"{source_notebook}: solution cell {index} is not valid Python "
                f"(line {exc.lineno}: {exc.msg}); fix the source notebook"
            ) from None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
    return names


def exercises(source_notebook: Path) -> set[str]:
    """The names a notebook asks the student to write, and the package's names for the
    same things: `solution_names` plus their `EQUIVALENTS`."""
    names = solution_names(source_notebook)
    return names | {other for name in names for other in EQUIVALENTS.get(name, ())}


def notebook_label(source_notebook: Path) -> str:
    """How a stub's message names the notebook: "02_linear/svm.ipynb"."""
    path = Path(source_notebook)
    return f"{path.parent.name}/{path.name}"


def _message(qualname: str, label: str, oracle: bool) -> str:
    """What a stub raises: the exercise's message, or an oracle's."""
    if oracle:
        return (
            f"{qualname} is a torch oracle of cs231n_lib.reference, for the trusted tests "
            f"only: it does not run in your kernel while {label} is graded"
        )
    return (
        f"{qualname} is what {label} asks you to write: the grader runs your version, "
        f"not the package's"
    )


def _identifiers(nodes) -> set[str]:
    """Every name, attribute and identifier-like string constant used in `nodes`."""
    found: set[str] = set()
    for node in nodes:
        if node is None:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                found.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                found.add(sub.attr)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                if sub.value.isidentifier():
                    found.add(sub.value)
    return found


def _is_descriptor(decorator: ast.expr) -> bool:
    """@staticmethod, @property, @x.setter and the like (kept on a stub)."""
    if isinstance(decorator, ast.Name):
        return decorator.id in DESCRIPTORS
    if isinstance(decorator, ast.Attribute):
        return decorator.attr in DESCRIPTORS | {"setter", "getter", "deleter"}
    return False


def _signature_parts(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list:
    """What a def evaluates when it is defined: defaults, annotations, kept decorators."""
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [a.annotation for a in every if a is not None]
    kept = [d for d in node.decorator_list if _is_descriptor(d)]
    return [*args.defaults, *args.kw_defaults, *annotations, node.returns, *kept]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass(eq=False)
class _Unit:
    """One definition the copy may withhold: a def, a class, a method or an alias.

    signature_refs are the names a stub of it still uses (defaults, annotations, bases);
    body_refs the names only the real definition uses."""

    module: str  # the module's file, relative to the package: "models/linear.py"
    qualname: str  # "svm_loss", "LinearClassifier.train"
    node: ast.AST
    signature_refs: set[str]
    body_refs: set[str]
    owner: _Unit | None = None  # the class of a method
    alias_of: str | None = None  # for `name = other` at module level
    withheld: bool = False
    members: list[_Unit] = field(default_factory=list)  # a class's methods

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


def _function_unit(module: str, node, prefix: str, owner: _Unit | None) -> _Unit:
    signature = _signature_parts(node)
    dropped = [d for d in node.decorator_list if not _is_descriptor(d)]
    return _Unit(
        module,
        prefix + node.name,
        node,
        _identifiers(signature),
        _identifiers([*node.body, *dropped]),
        owner=owner,
    )


def _class_unit(module: str, node: ast.ClassDef, prefix: str, owner: _Unit | None) -> list:
    """The class and its methods (and nested classes), each a unit of its own."""
    rest = [s for s in node.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    rest = [s for s in rest if not isinstance(s, ast.ClassDef)]
    unit = _Unit(
        module,
        prefix + node.name,
        node,
        _identifiers([*node.bases, *node.keywords]),
        _identifiers([*rest, *node.decorator_list]),
        owner=owner,
    )
    units = [unit]
    for member in node.body:
        if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
            units.append(_function_unit(module, member, unit.qualname + ".", unit))
        elif isinstance(member, ast.ClassDef):
            units += _class_unit(module, member, unit.qualname + ".", unit)
    unit.members = [u for u in units[1:] if u.owner is unit]
    return units


def _alias(node: ast.stmt) -> tuple[list[str], str] | None:
    """(targets, value) of a module-level `a = b = name`, else None."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
        if all(isinstance(t, ast.Name) for t in node.targets):
            return [t.id for t in node.targets], node.value.id
    return None


@dataclass
class _Module:
    path: str  # relative to the package: "layers/core.py"
    tree: ast.Module
    units: list[_Unit]
    statement_refs: set[str]  # names its other module-level statements use
    imported: dict[str, tuple[str, str]]  # local name -> (module path, name) from the package

    @property
    def oracle(self) -> bool:
        return self.path.split("/")[0] == ORACLES


def _module_path(package: str, dotted: str) -> str | None:
    """The file of a module of `package` ("cs231n_lib.layers.core" gives "layers/core.py"),
    None for other modules. A subpackage's name gives a path that is no module, so an
    alias of a name imported through its __init__ is not followed."""
    parts = dotted.split(".")
    if parts[0] != package:
        return None
    return "/".join(parts[1:]) + ".py" if len(parts) > 1 else "__init__.py"


def _parse_module(package: str, path: str, text: str) -> _Module:
    tree = ast.parse(text, filename=path)
    units: list[_Unit] = []
    statements = []
    imported: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            units.append(_function_unit(path, node, "", None))
        elif isinstance(node, ast.ClassDef):
            units += _class_unit(path, node, "", None)
        elif _alias(node):
            targets, value = _alias(node)
            for target in targets:
                units.append(_Unit(path, target, node, set(), {value}, alias_of=value))
        elif isinstance(node, ast.ImportFrom):
            source = _module_path(package, node.module or "") if node.level == 0 else None
            for alias in node.names:
                if source:
                    imported[alias.asname or alias.name] = (source, alias.name)
        elif not isinstance(node, ast.Import):
            statements.append(node)
    return _Module(path, tree, units, _identifiers(statements), imported)


def _package_files(source: Path) -> list[Path]:
    """The package's .py files, sorted, without caches and hidden folders."""
    files = []
    for file in sorted(source.rglob("*.py")):
        relative = file.relative_to(source)
        if "__pycache__" in relative.parts or any(p.startswith(".") for p in relative.parts):
            continue
        files.append(file)
    return files


# Parsing the whole package is most of the cost of a copy (about 2 s); a process that
# builds several copies (a grading worker, the tests) parses each version once. _plan
# sets every unit's flag afresh and _Rewriter copies what it changes, so the parsed
# modules can be shared; the lock keeps one plan-and-rewrite at a time on them.
_PARSED: dict[Path, tuple[tuple, dict[str, _Module]]] = {}
_PARSED_LOCK = threading.RLock()


def _size_and_time(file: Path) -> tuple[int, int]:
    status = file.stat()
    return status.st_size, status.st_mtime_ns


def _read_package(source: Path) -> dict[str, _Module]:
    """Every .py file of the package at `source`, parsed, keyed by relative path (kept
    per process while no file's size or modification time changes; the caller holds
    _PARSED_LOCK while it uses them)."""
    files = _package_files(source)
    stamp = tuple((f.as_posix(), *_size_and_time(f)) for f in files)
    cached = _PARSED.get(source)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    modules = {}
    for file in files:
        path = file.relative_to(source).as_posix()
        modules[path] = _parse_module(source.name, path, file.read_text(encoding="utf-8"))
    _PARSED[source] = (stamp, modules)
    return modules


def _plan(modules: dict[str, _Module], names: set[str]) -> None:
    """Mark the units to withhold: named ones, the oracles' and, to a fixed point, the
    private helpers only withheld code uses, aliases of withheld things, and the
    members of withheld classes."""
    units = [u for m in modules.values() for u in m.units]
    for unit in units:
        # grading/ holds no exercise (and the kernel's end of the bridge lives there).
        named = unit.name in names and not unit.module.startswith("grading/")
        unit.withheld = named or modules[unit.module].oracle
    changed = True
    while changed:
        changed = False
        for unit in units:  # a withheld class takes all its members with it
            if unit.withheld:
                for member in unit.members:
                    if not member.withheld:
                        member.withheld = changed = True
        live: dict[str, set[int]] = {}  # name -> ids of the live code that uses it
        withheld_refs: set[str] = set()
        for unit in units:
            refs = unit.signature_refs if unit.withheld else unit.signature_refs | unit.body_refs
            for name in refs:
                live.setdefault(name, set()).add(id(unit))
            if unit.withheld:
                withheld_refs |= unit.body_refs
        for module in modules.values():
            for name in module.statement_refs:
                live.setdefault(name, set()).add(id(module))
        for unit in units:
            if unit.withheld:
                continue
            if unit.alias_of is not None and _withheld_target(modules, unit):
                unit.withheld = changed = True
            elif _is_private(unit.name) and unit.name in withheld_refs:
                own = {id(unit), *(id(m) for m in unit.members)}
                if not live.get(unit.name, set()) - own:
                    unit.withheld = changed = True


def _withheld_target(modules: dict[str, _Module], alias: _Unit) -> bool:
    """Whether `alias = name` names a withheld definition of its module, or one that
    the module imported from another module of the package."""
    module = modules[alias.module]
    target = alias.alias_of
    if target in module.imported:
        path, target = module.imported[target]
        module = modules.get(path)
        if module is None:
            return False
    return any(u.withheld and u.qualname == target for u in module.units)


def _raising(message: str) -> list[ast.stmt]:
    """A stub's body: `message` as its docstring, then raise it."""
    error = ast.Call(ast.Name("NotImplementedError", ast.Load()), [ast.Constant(message)], [])
    return [ast.Expr(ast.Constant(message)), ast.Raise(exc=error, cause=None)]


def _stub_function(node, message: str):
    """The def `node` with its signature and descriptors, and a body that raises."""
    stub = copy.copy(node)
    stub.body = _raising(message)
    stub.decorator_list = [d for d in node.decorator_list if _is_descriptor(d)]
    return stub


def _new_function(name: str, args: ast.arguments | None, message: str, like: ast.AST):
    """A new def `name` with `args` (None: (*args, **kwargs)) that raises `message`."""
    stub = ast.parse(f"def {name}(*args, **kwargs):\n    pass").body[0]
    if args is not None:
        stub.args = args
    stub.body = _raising(message)
    return ast.copy_location(stub, like)


def _signature_of(module: _Module, name: str) -> ast.arguments | None:
    """The arguments of the top-level def `name` in `module`, None if there is none."""
    for unit in module.units:
        if unit.qualname == name and isinstance(unit.node, ast.FunctionDef):
            return unit.node.args
    return None


class _Rewriter:
    """Replaces a module's withheld units by stubs."""

    def __init__(self, module: _Module, label: str, names: set[str]):
        self.module = module
        self.label = label
        self.names = names
        self.by_node: dict[int, list[_Unit]] = {}
        for unit in module.units:
            self.by_node.setdefault(id(unit.node), []).append(unit)

    def message(self, unit: _Unit) -> str:
        oracle = self.module.oracle and unit.name not in self.names
        return _message(unit.qualname, self.label, oracle)

    def body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """`body` with each withheld definition in it replaced by its stub."""
        out = []
        for node in body:
            units = self.by_node.get(id(node), [])
            if not units:
                out.append(node)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                withheld = units[0].withheld
                out.append(_stub_function(node, self.message(units[0])) if withheld else node)
            elif isinstance(node, ast.ClassDef):
                out.append(self.klass(node, units[0]))
            else:  # `a = b = name`: a stub per withheld target, the others stay aliases
                args = _signature_of(self.module, units[0].alias_of)
                for alias in (u for u in units if u.withheld):
                    out.append(_new_function(alias.qualname, args, self.message(alias), node))
                kept = [ast.Name(u.qualname, ast.Store()) for u in units if not u.withheld]
                if kept:
                    out.append(ast.copy_location(ast.Assign(kept, node.value), node))
        return out

    def klass(self, node: ast.ClassDef, unit: _Unit) -> ast.ClassDef:
        """A withheld class keeps its bases and gets a docstring and a stub per method
        (an __init__ stub if it had none); a live one has its withheld methods stubbed."""
        stub = copy.copy(node)
        if not unit.withheld:
            stub.body = self.body(node.body) or [ast.Pass()]
            return stub
        message = self.message(unit)
        members = [m for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
        members += [m for m in node.body if isinstance(m, ast.ClassDef)]
        stub.body = [ast.Expr(ast.Constant(message)), *self.body(members)]
        if not any(m.name == "__init__" for m in members):
            init = ast.parse("def __init__(self, *args, **kwargs):\n    pass").body[0]
            init.body = _raising(_message(f"{unit.qualname}.__init__", self.label, False))
            stub.body.append(ast.copy_location(init, node))
        stub.decorator_list = []  # a decorator may be withheld code (reference's numpy_io)
        return stub

    def oracle_lambdas(self, tree: ast.Module) -> bool:
        """Module-level lambdas of an oracle module become LAMBDA_STUB; True if any."""
        found = False

        class Swap(ast.NodeTransformer):
            def visit_FunctionDef(self, node):
                return node  # stubs keep their defaults

            visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

            def visit_Lambda(self, node):
                nonlocal found
                found = True
                return ast.copy_location(ast.Name(LAMBDA_STUB, ast.Load()), node)

        Swap().visit(tree)
        return found

    def rewrite(self) -> str | None:
        """The module's new source, or None if nothing in it is withheld."""
        tree = copy.copy(self.module.tree)
        touched = any(u.withheld for u in self.module.units)
        tree.body = self.body(self.module.tree.body)
        if self.module.oracle:  # the swap below edits nodes in place: not the shared ones
            tree.body = copy.deepcopy(tree.body)
        if self.module.oracle and self.oracle_lambdas(tree):
            touched = True
            message = _message(f"a lambda of {self.module.path}", self.label, oracle=True)
            helper = _new_function(LAMBDA_STUB, None, message, tree)
            tree.body.insert(_after_preamble(tree), helper)
        if not touched:
            return None
        ast.fix_missing_locations(tree)
        header = (
            f"# Written by cs231n_lib.grading.withhold while {self.label} is graded: what "
            f"that notebook asks you to write, and the torch oracles, are stubs here.\n"
        )
        return header + ast.unparse(tree) + "\n"


def _after_preamble(tree: ast.Module) -> int:
    """Index after the module docstring and `from __future__` imports."""
    index = 0
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        index = 1
    while index < len(body) and isinstance(body[index], ast.ImportFrom):
        if body[index].module != "__future__":
            break
        index += 1
    return index


def _checked(names: set[str], label: str) -> set[str]:
    """`names` as a set, after checking both arguments (TypeError, ValueError)."""
    if isinstance(names, str | bytes) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a set of identifiers such as {{'svm_loss'}}, got {names!r}")
    names = set(names)
    bad = sorted(n for n in names if not n.isidentifier())
    if bad:
        raise ValueError(f"names must be Python identifiers, got {bad}")
    if not isinstance(label, str) or not label.strip() or "\n" in label or "\r" in label:
        raise ValueError(f"notebook_label must be one line of text, got {label!r}")
    return names


def withheld_package(
    names: set[str], notebook_label: str, dest: Path, *, source: Path | None = None
) -> Path:
    """Write the package without `names` into `dest`; return the copy's package folder.

    Inputs:
    - names: what the graded notebook asks for (`exercises()`): every def, method or
      class of that name, anywhere in the package, becomes a stub with its signature
      that raises NotImplementedError naming `notebook_label`; so does every function
      and class of reference/ (see the module docstring for the helpers and aliases).
    - notebook_label: how messages name the notebook, e.g. "02_linear/svm.ipynb".
    - dest: a folder; dest/<package name> must not exist yet.
    - source: the package to copy (default: this cs231n_lib).
    Returns dest / "cs231n_lib" (the folder to put in place of the package).
    Only .py files are copied; a module with nothing withheld is copied byte for byte.
    """
    names = _checked(names, notebook_label)
    source = Path(source or PACKAGE).resolve()
    if not (source / "__init__.py").is_file():
        raise ValueError(f"{source} is not a Python package (no __init__.py)")
    target = Path(dest) / source.name
    if target.exists():
        raise FileExistsError(f"{target} exists already: withheld_package writes a new copy")
    with _PARSED_LOCK:
        modules = _read_package(source)
        _plan(modules, names)
        texts = {p: _Rewriter(m, notebook_label, names).rewrite() for p, m in modules.items()}
    for path, text in texts.items():
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            shutil.copyfile(source / path, out)
        else:
            compile(text, str(out), "exec")  # a rewrite that does not compile is a bug here
            out.write_text(text, encoding="utf-8")
    return target


def withheld_units(names: set[str], *, source: Path | None = None) -> dict[str, list[str]]:
    """What `withheld_package(names, ...)` stubs: module file ("models/linear.py") ->
    qualified names ("svm_loss", "LinearClassifier.train"), in source order. Modules
    with nothing withheld are left out."""
    names = _checked(names, "-")
    with _PARSED_LOCK:
        modules = _read_package(Path(source or PACKAGE).resolve())
        _plan(modules, names)
        found = {p: [u.qualname for u in m.units if u.withheld] for p, m in modules.items()}
    return {path: qualnames for path, qualnames in found.items() if qualnames}


def _cache_key(names: set[str], label: str, source: Path) -> str:
    """A digest of what decides the copy: the names, the label and the package's code."""
    digest = hashlib.sha256()
    digest.update(repr((sorted(names), label)).encode())
    for file in _package_files(source):
        digest.update(file.relative_to(source).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cached_withheld_package(
    names: set[str], notebook_label: str, cache_dir: Path, *, source: Path | None = None
) -> Path:
    """`withheld_package` built once in cache_dir per (names, label, package source).

    Safe for concurrent workers: each builds in a scratch folder and renames it into
    place; the first to finish wins and the others use its copy. Returns the copy's
    package folder.
    """
    names = _checked(names, notebook_label)
    source = Path(source or PACKAGE).resolve()
    cache_dir = Path(cache_dir)
    final = cache_dir / _cache_key(names, notebook_label, source)
    package = final / source.name
    if package.is_dir():
        return package
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=cache_dir))
    try:
        scratch.chmod(0o755)  # readable like the package itself, not mkdtemp's 0700
        withheld_package(names, notebook_label, scratch, source=source)
        try:
            os.rename(scratch, final)
        except OSError:
            if not package.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return package
