"""What a function's source reaches, read statically: calls, attribute chains, string lookups.

The own-implementation checks of `cs231n_lib.checks` judge what student code CALLS, never the
names of its local variables: `np.linalg.norm(x)` is reported as `numpy.linalg.norm`,
`getattr(np, "linalg")` as `numpy.linalg`, `x.argsort()` on a local `x` as `.argsort`, and a
local variable named `grad` or `cdist` not at all. Names are resolved through the imports and
aliases of the notebook, and helper functions of the notebook are read as well.

Nothing here runs the code it reads (standard library only), so the trusted grading process
can judge a submission from the text of its cells.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import re
import sys
import textwrap
import types
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

_BUILTINS = frozenset(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_IMPORTERS = {"importlib.import_module", "builtins.__import__", "importlib.__import__"}
_RUNNERS = {"builtins.eval": "eval", "builtins.exec": "exec", "builtins.compile": "exec"}
_NAMESPACES = {"builtins.globals", "builtins.vars", "builtins.locals"}
_LOOPS = {
    ast.For: "a `for` loop",
    ast.AsyncFor: "an `async for` loop",
    ast.While: "a `while` loop",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
}
_MAX_TEXT = 60  # characters of source quoted in a message
_CELL = "<cell>"  # the name of a whole cell read by dynamic_lookups


@dataclass(frozen=True)
class ImplementationSource:
    """The source of a student's function or class, with the notebook around it."""

    name: str  # the function or class the check is about, as the notebook names it
    source: str  # its `def` or `class` statement (a whole cell that holds it works too)
    helpers: Mapping[str, str] = field(default_factory=dict)  # other notebook defs: name -> source
    aliases: Mapping[str, str] = field(default_factory=dict)  # global name -> dotted path

    @classmethod
    def from_cells(cls, name: str, cells: Iterable[str]) -> ImplementationSource:
        """`name` as the code cells `cells` (sources, in notebook order) define it."""
        aliases, definitions = notebook_bindings(cells)
        if name not in definitions:
            raise ValueError(
                f"no top-level def or class named {name!r} in the cells given "
                f"(they define {sorted(definitions) or 'none'})"
            )
        helpers = {key: text for key, text in definitions.items() if key != name}
        return cls(name, definitions[name], helpers, aliases)


@dataclass(frozen=True)
class Use:
    """One thing a function reaches: a library name, a notebook function or an attribute."""

    path: str  # "numpy.linalg.norm"; ".argsort" for an attribute of a local value
    kind: str  # library | import | global | builtin | notebook | attribute (see `scan`)
    text: str  # the source text it comes from, e.g. "np.linalg.norm"
    line: int  # its line in the source of `function` (1 = that source's first line)
    function: str  # where it is: the checked function, a helper, "Class.method", "f.inner"
    called: bool = False  # whether the code calls it there


@dataclass(frozen=True)
class Scan:
    """What `scan` found: the uses, and the dynamic lookups it could not follow."""

    uses: list[Use]
    flags: list[str]  # "f, line 3: getattr with a computed name (`getattr(np, name)`)"


def scan(impl: ImplementationSource) -> Scan:
    """Everything `impl` calls or reaches, and every notebook helper it reaches, recursively.

    Kinds of Use:
    - library: a dotted path resolved through imports, aliases and constant string lookups
      (`getattr`, `importlib.import_module`, `__import__`, `sys.modules[...]`, `vars(m)[...]`);
    - import: a module an import statement or `import_module`/`__import__` names;
    - global: a global name the notebook neither imports nor defines, as written;
    - builtin: a builtin such as `sum` or `getattr`;
    - notebook: a function or class of the notebook (its source is read too);
    - attribute: `.name` used on a local value or on a computed value.
    Local variables, parameters and the function's own name are never reported.
    """
    state = _State(impl)
    state.run()
    return Scan(state.uses, state.flags)


def dynamic_lookups(source: str, aliases: Mapping[str, str] | None = None) -> list[str]:
    """Human descriptions of the lookups in `source` (a cell) that a static reading cannot follow.

    getattr/setattr with a computed name, importlib/__import__ with a computed module, eval,
    exec, compile, globals(), vars(), locals(), `__dict__`, `sys.modules` and `__builtins__`.
    `aliases` (global name -> dotted path) adds the notebook's imports to those of `source`.
    """
    impl = ImplementationSource(_CELL, source, aliases=dict(aliases or {}))
    state = _State(impl, whole_source=True)
    state.run()
    return state.flags


def matches(entry: str, use: Use) -> bool:
    """Whether the forbidden `entry` names `use`.

    "cdist" matches any path with a component cdist (scipy.spatial.distance.cdist), an
    attribute `.cdist` and a notebook function cdist; "scipy.spatial" or "nn.Module" matches
    a path holding those components in that order; ".argsort" matches only the attribute.
    """
    if entry.startswith("."):
        return use.kind == "attribute" and use.path == entry
    if use.kind == "notebook":
        return use.path == entry
    parts = iter(use.path.lstrip(".").split("."))
    return all(wanted in parts for wanted in entry.split("."))  # in order: `in` consumes parts


def forbidden_uses(found: Iterable[Use], forbidden: Iterable[str]) -> list[tuple[str, Use]]:
    """For each entry of `forbidden` that some use matches, (entry, its first such use).

    Calls come before other uses, then earlier lines, so a message shows the clearest case.
    """
    ordered = sorted(found, key=lambda use: (not use.called, use.line))
    hits = []
    for entry in dict.fromkeys(forbidden):
        use = next((use for use in ordered if matches(entry, use)), None)
        if use is not None:
            hits.append((entry, use))
    return hits


def loops(impl: ImplementationSource) -> list[str]:
    """The Python loops in the source of `impl` and its nested functions: ["a `for` loop in
    line 4", ...]: for, while, comprehensions and generator expressions. Helpers are not read."""
    tree = _parse(impl.source)
    node = _definition(tree, impl.name) or tree
    found = [
        (inner.lineno, _LOOPS[type(inner)]) for inner in ast.walk(node) if type(inner) in _LOOPS
    ]
    return [f"{kind} in line {line}" for line, kind in sorted(found)]


def notebook_bindings(cells: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """What the top-level code of `cells` (sources, in notebook order) binds.

    Returns (aliases, definitions): aliases maps a global name to the dotted path of what it is
    (`import numpy as np`, `from scipy.spatial.distance import cdist as d`, `dist = np.linalg.norm`,
    `f = functools.partial(cdist, ...)`); definitions maps the name of each top-level function
    or class to its source. A later binding of a name replaces an earlier one; a cell that is
    not valid Python (after removing IPython magics) is skipped.
    """
    aliases: dict[str, str] = {}
    definitions: dict[str, str] = {}
    for cell in cells:
        try:
            tree, text = _parse_with_text(cell)
        except SyntaxError:
            continue
        _bind_statements(tree.body, text, aliases, definitions)
    return aliases, definitions


def source_of(obj) -> ImplementationSource:
    """The default lookup for a function or class living in this process.

    Its source from `inspect`, helpers from the functions and classes of its own module (the
    notebook's cells) and aliases from the modules and library objects among its globals and
    closure variables. Raises TypeError for anything else, OSError when no source is available.
    """
    if not isinstance(obj, types.FunctionType | type):
        raise TypeError(f"{obj!r} is not a Python function or class")
    namespace = dict(_globals_of(obj))
    if isinstance(obj, types.FunctionType):
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=True):
            with contextlib.suppress(ValueError):  # a cell not filled yet
                namespace[name] = cell.cell_contents
    source = _source_text(obj)
    module = getattr(obj, "__module__", None)
    aliases, definitions = {}, {}
    for name, value in namespace.items():
        if name.startswith("__") or value is obj:
            continue
        if isinstance(value, types.FunctionType | type) and value.__module__ == module:
            definitions[name] = value
        elif (path := _object_path(value)) is not None:
            aliases[name] = path
    return ImplementationSource(obj.__name__, source, _LazySources(definitions), aliases)


# --- reading sources ---------------------------------------------------------------------


def _parse(source: str) -> ast.Module:
    return _parse_with_text(source)[0]


def _parse_with_text(source: str) -> tuple[ast.Module, str]:
    """Parse dedented `source`; retry with IPython magics and shell escapes as `pass`."""
    text = textwrap.dedent(source)
    try:
        return ast.parse(text), text
    except SyntaxError:
        lines = text.splitlines()
        if lines and lines[0].startswith("%%"):
            raise  # a cell magic: the cell is not Python
        text = "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in lines)
        return ast.parse(text), text


def _definition(tree: ast.Module, name: str):
    """The top-level def or class `name` of `tree` (the only one if none has that name)."""
    candidates = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    named = [node for node in candidates if node.name == name]
    if named:
        return named[-1]
    return candidates[0] if len(candidates) == 1 else None


def _segment(text: str, node: ast.AST) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    return "\n".join(text.splitlines()[start - 1 : node.end_lineno])


def _const_str(node) -> str | None:
    """The value of a string that is constant in the source ("a", "a" + "b", f"a")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _const_str(node.left), _const_str(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_const_str(value) for value in node.values]
        return None if None in parts else "".join(parts)
    return None


def _bind_statements(statements, text, aliases: dict, definitions: dict) -> None:
    """Update aliases and definitions with what module-level `statements` bind."""

    def lookup(name: str) -> set[tuple[str, str]]:
        if name in aliases:
            return {(aliases[name], "library")}
        return {(name, "builtin")} if name in _BUILTINS and name not in definitions else set()

    def bind(name: str, path: str | None = None, source: str | None = None) -> None:
        aliases.pop(name, None)
        definitions.pop(name, None)
        if path is not None:
            aliases[name] = path
        if source is not None:
            definitions[name] = source

    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                bind(alias.asname or top, alias.name if alias.asname else top)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    absolute = node.module and not node.level  # a relative import: unknown
                    path = f"{node.module}.{alias.name}" if absolute else None
                    bind(alias.asname or alias.name, path)
        elif isinstance(node, _DEFINITIONS):
            bind(node.name, source=_segment(text, node))
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            paths = {p for p, kind in _resolve(node.value, lookup) if kind == "library"}
            copied = definitions.get(node.value.id) if isinstance(node.value, ast.Name) else None
            for target in targets:
                for name in _target_names(target):
                    simple = isinstance(target, ast.Name)
                    path = next(iter(paths)) if simple and len(paths) == 1 else None
                    bind(name, path, copied if simple else None)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                _bind_statements(getattr(node, block, []), text, aliases, definitions)
            for handler in getattr(node, "handlers", []):
                _bind_statements(handler.body, text, aliases, definitions)
        elif isinstance(node, ast.AugAssign | ast.For):
            for name in _target_names(node.target):
                bind(name)


def _target_names(target) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


# --- resolving expressions to dotted paths -----------------------------------------------

Lookup = Callable[[str], set[tuple[str, str]]]  # name -> {(path, kind)} of what it may be


def _resolve(node, lookup: Lookup) -> set[tuple[str, str]]:
    """The dotted paths `node` may evaluate to, as (path, kind) pairs, where the code tells.

    Follows names (through `lookup`), attribute chains, getattr with a constant name,
    import_module/__import__ of a constant, functools.partial, sys.modules[...], vars(m)[...],
    m.__dict__[...] and globals()[...]. Empty when the value is computed.
    """
    if isinstance(node, ast.Name):
        return lookup(node.id)
    if isinstance(node, ast.Attribute):
        return {
            (f"{path}.{node.attr}", kind)
            for path, kind in _resolve(node.value, lookup)
            if kind in ("library", "global", "builtin")
        }
    if isinstance(node, ast.Call):
        return _resolve_call(node, lookup)
    if isinstance(node, ast.Subscript):
        return _resolve_subscript(node, lookup)
    return set()


def _callees(node: ast.Call, lookup: Lookup) -> set[str]:
    """Dotted names of what `node` calls; builtins as builtins.NAME."""
    return {
        f"builtins.{path}" if kind == "builtin" else path
        for path, kind in _resolve(node.func, lookup)
    }


def _resolve_call(node: ast.Call, lookup: Lookup) -> set[tuple[str, str]]:
    callees, args = _callees(node, lookup), node.args
    if "builtins.getattr" in callees and len(args) >= 2 and (name := _const_str(args[1])):
        return _resolve(ast.Attribute(value=args[0], attr=name), lookup)
    if callees & _IMPORTERS and args and (module := _const_str(args[0])):
        # __import__("a.b") gives back the package a, unless it is given a fromlist.
        fromlist = len(args) >= 4 or any(keyword.arg == "fromlist" for keyword in node.keywords)
        whole = fromlist or "importlib.import_module" in callees
        return {(module if whole else module.split(".")[0], "library")}
    if "functools.partial" in callees and args:
        return _resolve(args[0], lookup)
    return set()


def _resolve_subscript(node: ast.Subscript, lookup: Lookup) -> set[tuple[str, str]]:
    key, base = _const_str(node.slice), node.value
    if key is None:
        return set()
    if ("sys.modules", "library") in _resolve(base, lookup):
        return {(key, "library")}
    if isinstance(base, ast.Attribute) and base.attr == "__dict__":
        return _resolve(ast.Attribute(value=base.value, attr=key), lookup)
    if isinstance(base, ast.Call):
        callees = _callees(base, lookup)
        if "builtins.vars" in callees and len(base.args) == 1:
            return _resolve(ast.Attribute(value=base.args[0], attr=key), lookup)
        if "builtins.globals" in callees:
            return lookup(key)
    return set()


# --- scopes ------------------------------------------------------------------------------


class _Scope:
    """The names one module, function, lambda, comprehension or class body binds."""

    def __init__(self, node: ast.AST, parent: _Scope | None):
        self.node, self.parent = node, parent
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.values: dict[str, list[tuple[ast.expr, _Scope]]] = {}  # name = expr, in scope
        self.imports: dict[str, set[str]] = {}  # name -> dotted paths its imports bind

    def owner(self, name: str) -> _Scope | None:
        """The non-module scope whose local `name` is, seen from here (None: a global)."""
        scope, first = self, True
        while scope is not None and scope.parent is not None:
            if name in scope.declared_global:
                return None
            # Methods do not see the names of their class body.
            if name in scope.bound and (first or not isinstance(scope.node, ast.ClassDef)):
                return scope
            scope, first = scope.parent, False
        return None


class _ScopedVisitor(ast.NodeVisitor):
    """Walks a tree visiting each part in the scope Python evaluates it in."""

    scope: _Scope

    def _scope_of(self, node: ast.AST) -> _Scope:
        raise NotImplementedError

    @contextlib.contextmanager
    def _inside(self, node: ast.AST) -> Iterator[None]:
        outer, self.scope = self.scope, self._scope_of(node)
        try:
            yield
        finally:
            self.scope = outer

    def _bind(self, name: str, value=None, value_scope: _Scope | None = None) -> None:
        """Record that `name` is bound in the current scope (to `value`, if known)."""

    def _visit_all(self, nodes) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def _visit_signature(self, args: ast.arguments) -> None:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        self._visit_all([*args.defaults, *args.kw_defaults])
        self._visit_all([arg.annotation for arg in every if arg is not None])

    def _bind_parameters(self, args: ast.arguments, outer: _Scope) -> None:
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        keyword_only = zip(args.kwonlyargs, args.kw_defaults, strict=True)
        pairs = [*zip(positional, defaults, strict=True), *keyword_only]
        for arg, default in pairs:
            self._bind(arg.arg, default, outer)
        for arg in (args.vararg, args.kwarg):
            if arg is not None:
                self._bind(arg.arg)

    def visit_FunctionDef(self, node) -> None:
        self._bind(node.name)
        self._visit_all(node.decorator_list)
        self._visit_signature(node.args)
        self._visit_all([node.returns])
        outer = self.scope
        with self._inside(node):
            self._bind_parameters(node.args, outer)
            self._visit_all(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_signature(node.args)
        outer = self.scope
        with self._inside(node):
            self._bind_parameters(node.args, outer)
            self.visit(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        self._visit_all([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)])
        with self._inside(node):
            self._visit_all(node.body)

    def _visit_comprehension(self, node) -> None:
        first, *rest = node.generators
        self.visit(first.iter)
        with self._inside(node):
            self.visit(first.target)
            self._visit_all(first.ifs)
            for generator in rest:
                self._visit_all([generator.target, generator.iter, *generator.ifs])
            if isinstance(node, ast.DictComp):
                self._visit_all([node.key, node.value])
            else:
                self.visit(node.elt)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension


class _ScopeBuilder(_ScopedVisitor):
    """First pass: the scopes of a tree and the names each binds."""

    def __init__(self, root: ast.Module, parent: _Scope | None = None):
        self.scopes: dict[ast.AST, _Scope] = {root: _Scope(root, parent)}
        self.scope = self.scopes[root]
        self._visit_all(root.body)

    def _scope_of(self, node: ast.AST) -> _Scope:
        self.scopes[node] = _Scope(node, self.scope)
        return self.scopes[node]

    def _bind(self, name: str, value=None, value_scope: _Scope | None = None) -> None:
        self.scope.bound.add(name)
        if value is not None:
            self.scope.values.setdefault(name, []).append((value, value_scope or self.scope))

    def _record(self, target, value) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value)
        elif isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List):
            if len(target.elts) == len(value.elts):
                for part, part_value in zip(target.elts, value.elts, strict=True):
                    self._record(part, part_value)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._bind(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._record(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._record(node.target, node.value)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # The target of := in a comprehension belongs to the enclosing function.
        scope = self.scope
        while isinstance(scope.node, _COMPREHENSIONS) and scope.parent is not None:
            scope = scope.parent
        scope.bound.add(node.target.id)
        scope.values.setdefault(node.target.id, []).append((node.value, self.scope))
        self.visit(node.value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            name = alias.asname or top
            self._bind(name)
            self.scope.imports.setdefault(name, set()).add(alias.name if alias.asname else top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name
            if name == "*":
                continue
            self._bind(name)
            if node.module and not node.level:
                self.scope.imports.setdefault(name, set()).add(f"{node.module}.{alias.name}")

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)


# --- the scan ----------------------------------------------------------------------------


class _State:
    """One scan: the uses and flags found so far and the helpers still to read."""

    def __init__(self, impl: ImplementationSource, whole_source: bool = False):
        self.impl, self.whole_source = impl, whole_source
        self.uses: list[Use] = []
        self.flags: list[str] = []
        self.pending: list[str] = []
        self.seen = {impl.name}
        self.aliases: Mapping[str, str] = impl.aliases
        self.helpers: Mapping[str, str] = impl.helpers

    def run(self) -> None:
        tree, text = _parse_with_text(self.impl.source)
        aliases, definitions = notebook_bindings([text])
        self.aliases = {**self.impl.aliases, **aliases}
        definitions.pop(self.impl.name, None)
        if self.whole_source:
            self.seen.update(definitions)  # read with the rest of the cell, not again
        self.helpers = ChainMap(definitions, self.impl.helpers)
        node = None if self.whole_source else _definition(tree, self.impl.name)
        self._read(self.impl.name, tree, text, node)
        while self.pending:
            name = self.pending.pop(0)
            try:
                tree, text = _parse_with_text(self.helpers[name])
            except (SyntaxError, KeyError):
                self.flags.append(f"{name}: its source could not be read, so it was not checked")
                continue
            self._read(name, tree, text, _definition(tree, name))

    def _read(self, name: str, tree: ast.Module, text: str, node) -> None:
        scopes = _ScopeBuilder(tree).scopes
        scanner = _Scanner(self, text, scopes, own=name)
        scanner.scope = scopes[tree]
        if node is None:
            scanner.defs = [] if name == _CELL else [name]
            scanner._visit_all(tree.body)
        else:
            scanner.visit(node)

    def reach(self, name: str) -> None:
        """Queue the notebook helper `name` to be read (once)."""
        if name not in self.seen:
            self.seen.add(name)
            self.pending.append(name)


class _Scanner(_ScopedVisitor):
    """Second pass: reports what each part of a tree calls, references or looks up."""

    def __init__(self, state: _State, text: str, scopes: dict, own: str, line: int | None = None):
        self.state, self.text, self.scopes, self.own = state, text, scopes, own
        self.lines = re.split(r"\r\n|\r|\n", text)  # as ast numbers lines
        self.defs: list[str] = []  # the defs and classes around the current node
        self.fixed_line = line  # code from a constant string: every use at the call's line

    def _scope_of(self, node: ast.AST) -> _Scope:
        return self.scopes[node]

    # what a name is

    def _lookup(self, name: str, scope: _Scope | None = None) -> set[tuple[str, str]]:
        return self._name_values(name, scope or self.scope, frozenset())

    def _name_values(self, name: str, scope: _Scope, guard: frozenset) -> set[tuple[str, str]]:
        owner = scope.owner(name)
        if owner is None:
            return self._global_values(name)
        key = (id(owner), name)
        if key in guard:
            return set()
        found = {(path, "library") for path in owner.imports.get(name, ())}
        for value, value_scope in owner.values.get(name, ()):
            found |= _resolve(
                value, lambda inner, s=value_scope: self._name_values(inner, s, guard | {key})
            )
        return found  # empty: a plain local value

    def _global_values(self, name: str) -> set[tuple[str, str]]:
        if name in (self.own, self.state.impl.name):
            return {(name, "own")}
        if name in self.state.helpers:
            return {(name, "notebook")}
        if name in self.state.aliases:
            return {(self.state.aliases[name], "library")}
        return {(name, "builtin" if name in _BUILTINS else "global")}

    # recording

    def _where(self) -> str:
        return ".".join(self.defs) or ("" if self.own == _CELL else self.own)

    def _line(self, node: ast.AST) -> int:
        return self.fixed_line or node.lineno

    def _text(self, node: ast.AST) -> str:
        # NOTE: ast.get_source_segment splits the whole source at each call: slow here.
        first, last = node.lineno - 1, node.end_lineno - 1
        try:
            lines = [line.encode() for line in self.lines[first : last + 1]]  # offsets: bytes
            lines[-1] = lines[-1][: node.end_col_offset]
            lines[0] = lines[0][node.col_offset :]
            text = b" ".join(lines).decode()
        except (IndexError, UnicodeDecodeError):
            text = ast.unparse(node)
        text = " ".join(text.split()) or ast.unparse(node)
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."

    def _add(self, path: str, kind: str, node: ast.AST, called: bool = False) -> None:
        use = Use(path, kind, self._text(node), self._line(node), self._where(), called)
        self.state.uses.append(use)
        if kind == "notebook":
            self.state.reach(path)

    def _flag(self, what: str, node: ast.AST) -> None:
        where = f"{self._where()}, line" if self._where() else "line"
        self.state.flags.append(f"{where} {self._line(node)}: {what} (`{self._text(node)}`)")

    # definitions

    def visit_FunctionDef(self, node) -> None:
        self.defs.append(node.name)
        super().visit_FunctionDef(node)
        self.defs.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defs.append(node.name)
        super().visit_ClassDef(node)
        self.defs.pop()

    # names, attribute chains, subscripts

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._report_chain(node, called=False)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._report_chain(node, called=False)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        for path, kind in _resolve_subscript(node, self._lookup):
            if kind != "own":
                self._add(path, kind, node)
        self.generic_visit(node)

    def _report_chain(self, node, called: bool) -> None:
        """Report `a.b.c` once, as a whole: a path when its root is known, else attributes."""
        attrs, root = [], node
        while isinstance(root, ast.Attribute):
            attrs.append(root.attr)
            root = root.value
        attrs.reverse()
        if "__dict__" in attrs:
            self._flag("a lookup in `__dict__`", node)
        if isinstance(root, ast.Name):
            if root.id == "__builtins__":
                self._flag("a lookup in `__builtins__`", node)
            values = self._lookup(root.id)
        else:
            values = _resolve(root, self._lookup)
            self.visit(root)
        as_attributes = not values
        for path, kind in values:
            if kind == "notebook":
                self._add(path, kind, root, called and not attrs)
            if kind in ("notebook", "own"):
                as_attributes = True
                continue
            full = ".".join([path, *attrs])
            self._add(full, kind, node, called)
            if full == "sys.modules" or full.startswith("sys.modules."):
                self._flag("a lookup in `sys.modules`", node)
        if as_attributes:
            for index, attr in enumerate(attrs):
                self._add(f".{attr}", "attribute", node, called and index == len(attrs) - 1)

    # calls

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name | ast.Attribute):
            self._report_chain(node.func, called=True)
        else:
            self.visit(node.func)
        self._special_call(node, _callees(node, self._lookup))
        self._visit_all(node.args)
        self._visit_all([keyword.value for keyword in node.keywords])

    def _special_call(self, node: ast.Call, callees: set[str]) -> None:
        args = node.args
        first = _const_str(args[0]) if args else None
        second = _const_str(args[1]) if len(args) >= 2 else None
        if "builtins.getattr" in callees and len(args) >= 2:
            if second is None:
                self._flag("getattr with a computed name", node)
            else:
                self._report_lookup(args[0], second, node)
        elif setter := callees & {"builtins.setattr", "builtins.delattr"}:
            if second is None:
                self._flag(f"{min(setter).split('.')[1]} with a computed name", node)
        elif callees & _IMPORTERS:
            if first is None:
                self._flag("an import of a computed module name", node)
            else:
                self._add(first, "import", node)
        elif callees & {"operator.attrgetter", "operator.methodcaller"}:
            names = [_const_str(arg) for arg in args]
            if "operator.methodcaller" in callees:
                names = names[:1]
            if None in names or not names:
                self._flag("attrgetter/methodcaller with a computed name", node)
            for name in filter(None, names):
                for part in name.split("."):
                    self._add(f".{part}", "attribute", node)
        elif runner := next((callee for callee in callees if callee in _RUNNERS), None):
            self._flag(f"{runner.split('.')[1]}() runs code the check cannot follow", node)
            if first is not None:
                self._scan_string(first, node)
        elif callees & _NAMESPACES:
            name = next(iter(callees & _NAMESPACES)).split(".")[1]
            self._flag(f"a lookup through {name}()", node)

    def _report_lookup(self, base, name: str, node: ast.AST) -> None:
        """getattr(base, "name"): a path below a known base, else an attribute."""
        known = [(p, k) for p, k in _resolve(base, self._lookup) if k in ("library", "global")]
        for path, kind in known:
            self._add(f"{path}.{name}", kind, node)
        if not known:
            self._add(f".{name}", "attribute", node)

    def _scan_string(self, code: str, node: ast.AST) -> None:
        """Read the code of a constant string given to eval/exec/compile, in this scope."""
        try:
            tree = ast.parse(textwrap.dedent(code))
        except SyntaxError:
            return
        scopes = _ScopeBuilder(tree, parent=self.scope).scopes
        inner = _Scanner(self.state, code, scopes, self.own, line=self._line(node))
        inner.defs, inner.scope = list(self.defs), scopes[tree]
        inner._visit_all(tree.body)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, "import", node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = f"{node.module}." if node.module and not node.level else "." * node.level
        for alias in node.names:
            self._add(f"{module}{alias.name}".replace(".*", ""), "import", node)


# --- the default lookup for objects in this process ----------------------------------------


class _LazySources(Mapping[str, str]):
    """Sources of a namespace's functions and classes, read when first asked for."""

    def __init__(self, objects: Mapping[str, object]):
        self._objects = dict(objects)
        self._sources: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._sources:
            try:
                self._sources[name] = _source_text(self._objects[name])
            except (OSError, TypeError):
                raise KeyError(name) from None
        return self._sources[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)


def _globals_of(obj) -> Mapping[str, object]:
    if isinstance(obj, types.FunctionType):
        return obj.__globals__
    for member in vars(obj).values():
        function = _function_of(member)
        if function is not None:
            return function.__globals__
    module = sys.modules.get(obj.__module__)
    return vars(module) if module is not None else {}


def _function_of(member) -> types.FunctionType | None:
    if isinstance(member, staticmethod | classmethod):
        member = member.__func__
    elif isinstance(member, property):
        member = member.fget
    return member if isinstance(member, types.FunctionType) else None


def _source_text(obj) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        if not isinstance(obj, type):
            raise
    # NOTE: before Python 3.13 inspect cannot find a class defined in a notebook cell; its
    # methods still know their cells, so the class is rebuilt from them.
    parts = []
    for member in vars(obj).values():
        function = _function_of(member)
        if function is not None and function.__qualname__.startswith(f"{obj.__qualname__}."):
            method = textwrap.dedent(inspect.getsource(function))
            parts.append(textwrap.indent(method, "    "))
    if not parts:
        raise OSError(f"the source of class {obj.__name__} is not available")
    return f"class {obj.__name__}:\n" + "\n".join(parts)


def _object_path(value) -> str | None:
    """The dotted path of a module or of a library function or class; None for other values."""
    try:
        if isinstance(value, types.ModuleType):
            return value.__name__
        if isinstance(value, functools.partial):
            return _object_path(value.func)
        module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
        if not callable(value) or not isinstance(module, str) or not isinstance(name, str):
            return None
        qualname = getattr(value, "__qualname__", name)
        if _attribute_path(module, name) is value or not isinstance(qualname, str):
            return f"{module}.{name}"
        return f"{module}.{name if '<' in qualname else qualname}"
    except Exception:  # an object whose attributes raise: nothing to tell
        return None


def _attribute_path(module: str, name: str):
    return getattr(sys.modules.get(module), name, None)
