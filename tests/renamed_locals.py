"""A class of correct submissions: the solution with every local variable renamed.

Correct code must pass whatever its local names. `rename_locals(notebook)` rewrites each
function of each solution cell so that its local variables carry the names a name-matching
own-implementation check would have rejected: the words of every forbidden list in the
notebooks (`cdist`, `softmax`, `torch`, ...) and generic words such as `backward`, `grad`,
`fold` and `normalize`. Parameters, globals, attributes and keyword names stay as they
are, so the renamed code computes exactly what the solution does. tests/test_grading.py
grades the result and expects full marks.
"""

from __future__ import annotations

import ast
import copy
import itertools
import keyword
from collections.abc import Iterable

import nbformat

# Names that a check matching local names would flag, beside the forbidden lists.
GENERIC = (
    "backward",
    "grad",
    "fold",
    "unfold",
    "normalize",
    "softmax",
    "forward",
    "cdist",
    "norm",
    "torch",
    "F",
    "nn",
    "scipy",
    "sklearn",
    "reference",
    "cs231n_lib",
    "optim",
    "einsum",
    "conv2d",
    "relu",
    "loss",
    "gather",
    "view",
    "reshape",
)


def forbidden_words(notebooks: Iterable[nbformat.NotebookNode]) -> list[str]:
    """The identifier-like strings of the test cells' forbidden lists (".argsort" gives
    "argsort", "scipy.spatial" gives "scipy" and "spatial"), in order of appearance."""
    words: dict[str, None] = {}
    for nb in notebooks:
        for cell in nb.cells:
            if cell.cell_type != "code" or "assert_own_implementation" not in cell.source:
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for part in node.value.split("."):
                        if part.isidentifier() and not keyword.iskeyword(part):
                            words[part] = None
    return list(words)


def rename_locals(
    nb: nbformat.NotebookNode, pool: Iterable[str]
) -> tuple[nbformat.NotebookNode, int]:
    """A copy of `nb` whose solution cells' functions have their locals renamed to names
    from `pool` (then `name2`, `name3`, ...); returns (notebook, how many were renamed)."""
    nb = copy.deepcopy(nb)
    pool = list(dict.fromkeys(pool))
    count = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # e.g. IPython magics: left as written
        renamed = 0
        for function in _functions(tree):
            renamed += _rename_in(function, pool)
        if renamed:
            cell.source = ast.unparse(tree)
            count += renamed
    return nb, count


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """Top-level functions and the methods of top-level classes."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            found += [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return found


def _rename_in(function: ast.FunctionDef, pool: list[str]) -> int:
    """Rename the local variables of `function` (and consistently in its nested scopes)."""
    used = set()  # every name the function's code mentions: never reused
    stored = []  # names assigned by Name targets, in order
    fixed = set()  # parameters (also of nested functions), global/nonlocal, import, except
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            used.add(node.id)
            if isinstance(node.ctx, ast.Store | ast.Del):
                stored.append(node.id)
        elif isinstance(node, ast.arg):
            fixed.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            fixed.update(node.names)
        elif isinstance(node, ast.alias):
            fixed.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            fixed.add(node.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            fixed.add(node.name)
            used.add(node.name)
            if isinstance(node, ast.ClassDef):  # class attributes are read as self.name
                for target in ast.walk(ast.Module(body=node.body, type_ignores=[])):
                    if isinstance(target, ast.Name):
                        fixed.add(target.id)
    targets = [name for name in dict.fromkeys(stored) if name not in fixed]
    fresh = (
        name
        for name in itertools.chain(
            pool, (f"{word}{i}" for i in itertools.count(2) for word in pool)
        )
        if name not in used
    )
    mapping = {old: next(fresh) for old in targets}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    return len(mapping)
