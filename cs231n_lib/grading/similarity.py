"""The instructor's similarity report (`cs231n similarity ASSIGNMENT`): solution cells that
are near-copies of another student's cell or of the package's own implementation.

Normalization (`normalize`): a cell is parsed (IPython `%`/`!` lines dropped) and written
as a pre-order sequence of tokens: node types, operators, identifiers, attribute names and
constants. Docstrings and other bare strings, comments, `pass`, `...` and type hints are
dropped (`x: int = 0` reads as `x = 0`). Identifiers are renamed to v0, v1, ... in order of
first appearance, per compared unit (a whole cell, or one def/class), except builtins and
the names bound by imports (of the notebook, or of the package module), so `np.sum` stays
`np.sum`. Attribute names and keyword-argument names stay as written (they are APIs: a
student can rename a local, not `axis=`). Numbers stay, every string becomes `<str>`. A
cell that does not parse is compared as regular-expression tokens instead (comments
dropped, the same renaming and constants), and the report says so.

Scores (`similarity`): difflib's `SequenceMatcher(autojunk=False).ratio()` on two token
sequences, 2 M / (len(a) + len(b)) with M the tokens in matching blocks: the share of
both cells that is the same code in the same order, in [0, 1]. It is chosen over k-gram
Jaccard because it needs no k (solution cells are often shorter than a useful k), it
counts repeated statements, and its number reads directly as "fraction in common".
autojunk is off because the common tokens (Attribute, Call) are the structure.
`ratio()` may differ with the order of its arguments, so the pair is put in a fixed
order first (the smaller sequence, as tuples compare) and the score is symmetric. What
it misses: of two independent blocks swapped, only one counts as matching. Pairs that
cannot reach the threshold are ruled out by difflib's cheap upper bounds first.

What is compared, for one assignment, in every code cell with nbgrader `solution: true`
(found by grade_id in each student's notebook):
- each top-level def or class of a student's cell with every def or class of that name
  (or of an equivalent name, `equivalents`) in cs231n_lib's source files outside the
  grader (read with ast, never imported), whole definitions, the best one reported;
- every pair of students, on their own code: the normalized cell minus the tokens it
  shares with the release cell (difflib opcodes against the release), so the skeleton
  every student receives does not make honest students look alike.
Cells left as released (same normalized code) or empty are skipped; so are units with
fewer than `min_tokens` tokens (the obvious answer to a one-line task is not evidence).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import html
import keyword
import re
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cs231n_lib.grading.course import CourseError, check_assignment
from cs231n_lib.grading.escape import cap_text, one_line
from cs231n_lib.grading.notebooks import (
    NotebookError,
    grade_id,
    nbgrader_metadata,
    python_source,
    read_notebook,
)

DEFAULT_THRESHOLD = 0.9  # reported at or above: a renamed or reformatted copy scores >= 0.95
DEFAULT_MIN_TOKENS = 30  # about two lines of code; shorter answers are alike by necessity
SOURCES = ("submitted", "autograded")  # instructor work areas a report can read
MANY_COMPARISONS = 500  # a progress bar from this many comparisons on
MAX_CELL_CHARS = 100_000  # of a cell, analysed and shown: a hostile flood is cut here

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # cs231n_lib/
NOT_COURSE_CODE = {"grading", "cli.py"}  # the grader and the command: no exercise is there
_BUILTINS = frozenset(dir(builtins))
_SKIPPED_FIELDS = {"ctx", "type_comment", "returns", "annotation", "type_params", "kind"}
_STRING = "<str>"


# ---- normalization ----------------------------------------------------------------------


@dataclass(frozen=True)
class Normalized:
    """One unit of code as token sequences: `ast` (None if it does not parse) and `text`
    (regular-expression tokens, always there)."""

    ast: tuple[str, ...] | None
    text: tuple[str, ...]

    def tokens(self, other: Normalized | None = None) -> tuple[str, ...]:
        """The sequence to compare with `other`: ast when both parse, else text."""
        if self.ast is not None and (other is None or other.ast is not None):
            return self.ast
        return self.text


class _Ident(str):
    """An identifier to rename when it is emitted (renaming follows emission order)."""


class _Renamer:
    """Canonical names v0, v1, ... in order of first appearance; `keep` stays as is."""

    def __init__(self, keep: frozenset[str]):
        self.keep = keep
        self.names: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name in self.keep or name in _BUILTINS:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")


def _constant(value: object) -> str:
    if isinstance(value, str | bytes):
        return _STRING
    return repr(value)


def _is_noise(stmt: ast.AST) -> bool:
    """Docstrings and other bare strings, `...`, `pass`, and annotations without a value."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
        return True
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and (isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis)
    )


def _identifier(field_name: str, value: object) -> object:
    """A field's string as a name to rename (def and class names, `except E as name`,
    global names, match captures) or, for attribute fields, kept as `.attr`; `_` for an
    absent item of a list (the key of `**x` in a dict, a keyword-only argument's default)."""
    if value is None:
        return "_"
    if not isinstance(value, str):
        return value
    return "." + value if "attr" in field_name else _Ident(value)


def _parts(node: ast.AST) -> list:
    """What `node` contributes to the sequence, in order: tokens (str), identifiers to
    rename (_Ident) and child nodes."""
    kind = type(node).__name__
    if isinstance(node, ast.Name):
        return [_Ident(node.id)]
    if isinstance(node, ast.arg):
        return [_Ident(node.arg)]
    if isinstance(node, ast.Attribute):
        return ["Attribute", node.value, "." + node.attr]
    if isinstance(node, ast.Constant):
        return [_constant(node.value)]
    if isinstance(node, ast.keyword):
        return ["keyword", node.arg or "**", node.value]
    if isinstance(node, ast.alias):
        return ["alias", node.name, node.asname or ""]
    if isinstance(node, ast.ImportFrom):
        return ["ImportFrom", node.module or "", str(node.level), *node.names]
    if isinstance(node, ast.AnnAssign):  # with a value (noise without): an assignment
        return ["Assign", "(", node.target, ")", node.value]
    parts: list = [kind]
    for name, value in ast.iter_fields(node):
        if name in _SKIPPED_FIELDS or value is None:
            continue
        if isinstance(value, ast.AST):
            parts.append(value)
        elif isinstance(value, list):
            items = [v for v in value if not (isinstance(v, ast.stmt) and _is_noise(v))]
            if items:  # brackets keep f(g(x), y) apart from f(g(x, y))
                parts += ["(", *(_identifier(name, v) for v in items), ")"]
        elif isinstance(value, str):
            parts.append(_identifier(name, value))
        else:
            parts.append(repr(value))
    return parts


def ast_tokens(node: ast.AST, keep: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The normalized pre-order token sequence of `node`. Iterative, so a deep tree cannot
    exhaust the stack."""
    rename = _Renamer(keep)
    out: list[str] = []
    stack: list = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, _Ident):
            out.append(rename(item))
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, ast.stmt) and _is_noise(item):
            continue
        else:
            stack.extend(reversed(_parts(item)))
    return tuple(out)


_TEXT_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
    |(?P<string>[rbuRBUfF]{0,2}(?:'''[\s\S]*?(?:'''|\Z)|\"\"\"[\s\S]*?(?:\"\"\"|\Z)
        |'(?:\\.|[^'\\\n])*'?|"(?:\\.|[^"\\\n])*"?))
    |(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[jJ]?)
    |(?P<name>[^\W\d]\w*)
    |(?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%&|^@=!<>]=|[^\s\w])
    |(?P<space>\s+)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(keyword.kwlist + keyword.softkwlist)


def text_tokens(source: str, keep: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Tokens of code that may not parse: comments and whitespace dropped, strings as
    `<str>`, numbers and keywords kept, names after a `.` kept, other names renamed as in
    `ast_tokens`."""
    rename = _Renamer(keep)
    out: list[str] = []
    for match in _TEXT_TOKEN.finditer(source):
        kind, token = match.lastgroup, match.group()
        if kind in {"comment", "space"}:
            continue
        if kind == "string":
            out.append(_STRING)
        elif kind == "name":
            after_dot = bool(out) and out[-1] == "."
            out.append(token if after_dot or token in _KEYWORDS else rename(token))
        else:
            out.append(token)
    return tuple(out)


def parse(source: str) -> ast.Module | None:
    """The cell's syntax tree, or None when it is not Python (a SyntaxError, a null byte,
    a tree too deep for the parser)."""
    try:
        return ast.parse(python_source(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def normalize(source: str, keep: frozenset[str] = frozenset()) -> Normalized:
    """`source` (a cell) as both token sequences; `keep` are names not to rename (the
    notebook's imports)."""
    source = python_source(source)
    tree = parse(source)
    keep = keep | imported_names(tree)
    return Normalized(
        ast=ast_tokens(tree, keep) if tree is not None else None,
        text=text_tokens(source, keep),
    )


def imported_names(tree: ast.AST | None) -> frozenset[str]:
    """Names bound by the import statements anywhere in `tree` (`import numpy as np`
    binds np, `import os.path` binds os, `from x import y` binds y)."""
    if tree is None:
        return frozenset()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names if a.name != "*"}
    return frozenset(names)


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Similarity in [0, 1] of two token sequences: SequenceMatcher's ratio (see the
    module docstring), symmetric; 1.0 for two identical sequences, 0.0 if one is empty."""
    a, b = tuple(a), tuple(b)
    if not a or not b:
        return float(a == b and bool(a))
    if b < a:
        a, b = b, a
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def code_similarity(
    source_a: str, source_b: str, keep: frozenset[str] = frozenset()
) -> tuple[float, str]:
    """Similarity of two cells of code and how it was measured: "ast", or "tokens" when
    either does not parse."""
    a, b = normalize(source_a, keep), normalize(source_b, keep)
    return similarity(a.tokens(b), b.tokens(a)), _method(a, b)


def _method(a: Normalized, b: Normalized) -> str:
    return "ast" if a.ast is not None and b.ast is not None else "tokens"


def _at_least(a: tuple[str, ...], b: tuple[str, ...], threshold: float) -> float | None:
    """similarity(a, b) when it reaches `threshold`, else None; the cheap upper bounds of
    difflib (length, then multiset) rule out most pairs before the real match."""
    if b < a:
        a, b = b, a
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
        return None
    score = matcher.ratio()
    return score if score >= threshold else None


def own_tokens(tokens: tuple[str, ...], released: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens of a student's cell that are not the release's: what difflib aligns with
    the released cell (the skeleton every student got) is removed."""
    if not released:
        return tokens
    matcher = difflib.SequenceMatcher(None, released, tokens, autojunk=False)
    kept: list[str] = []
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in {"replace", "insert"}:
            kept += tokens[j1:j2]
    return tuple(kept)


# ---- the package's definitions ----------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """A def or class of the package: `path` like "cs231n_lib/layers/core.py", `name` as
    written, `qualname` like "TwoLayerNet.loss", its first `line` and `source`."""

    path: str
    name: str
    qualname: str
    line: int
    source: str
    tokens: tuple[str, ...]


def _definitions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """(qualname, node) of every def and class, at top level and inside classes."""
    todo = [("", node) for node in tree.body]
    while todo:
        prefix, node = todo.pop(0)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield prefix + node.name, node
            if isinstance(node, ast.ClassDef):
                todo += [(f"{prefix}{node.name}.", child) for child in node.body]


def _segment(lines: list[str], node: ast.AST) -> str:
    """The source lines of a def or class with its decorators, dedented."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno]))


@functools.cache
def package_definitions(package_dir: Path = PACKAGE_DIR) -> dict[str, list[Definition]]:
    """Every def and class in the .py files under `package_dir`, by name (read, not
    imported), except the instructor's tools (NOT_COURSE_CODE): what a notebook could ask
    a student to write. Names bound by each module's imports are kept in its tokens."""
    index: dict[str, list[Definition]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        inside = path.relative_to(package_dir).parts
        if "__pycache__" in inside or inside[0] in NOT_COURSE_CODE:
            continue
        text = path.read_text(encoding="utf-8")
        tree = parse(text)
        if tree is None:
            continue
        keep, lines = imported_names(tree), text.splitlines()
        shown = path.relative_to(package_dir.parent).as_posix()
        for qualname, node in _definitions(tree):
            tokens = ast_tokens(node, keep)
            found = Definition(
                shown, node.name, qualname, node.lineno, _segment(lines, node), tokens
            )
            index.setdefault(node.name, []).append(found)
    return index


# ---- a class's cells ----------------------------------------------------------------------


@dataclass(frozen=True)
class SolutionCell:
    """A solution cell of the release: notebook file name, grade_id, released source and
    its normalized form; `keep` holds the names the notebook imports."""

    notebook: str
    grade_id: str
    source: str
    released: Normalized
    keep: frozenset[str]


@dataclass(frozen=True)
class CellVersion:
    """One student's version of a solution cell: its source, normalized, its own tokens
    (without the release's) for each sequence kind, and its top-level definitions as
    (name, source, tokens)."""

    student: str
    cell: SolutionCell
    source: str
    normalized: Normalized
    own_ast: tuple[str, ...] | None
    own_text: tuple[str, ...]
    definitions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def own(self, other: CellVersion | None = None) -> tuple[str, ...]:
        """Own tokens to compare with `other`'s: ast when both parse, else text."""
        if self.own_ast is not None and (other is None or other.own_ast is not None):
            return self.own_ast
        return self.own_text


@dataclass(frozen=True)
class Match:
    """A pair at or above the threshold: `student` and `other` (another student's id, or
    "package: cs231n_lib/layers/core.py"), where, the `score`, "ast" or "tokens", and the
    two pieces of code to show side by side; `name` is the def compared with the package."""

    score: float
    notebook: str
    cell: str
    student: str
    other: str
    method: str
    source: str
    other_source: str
    name: str | None = None
    line: int | None = None  # of the package's definition


@dataclass
class Report:
    """What `similarity_report` found: matches sorted by score (highest first), counts,
    seconds it took, and notes (unreadable notebooks, cells compared as tokens...)."""

    assignment: str
    source: str
    threshold: float
    students: list[str]
    cells: int = 0
    versions: int = 0
    pairs: int = 0
    package_comparisons: int = 0
    seconds: float = 0.0
    matches: list[Match] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _students(folder: Path, assignment: str) -> list[str]:
    """Students with a folder `folder`/<student>/<assignment>/."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir())


def _cut(source: str) -> str:
    return source if len(source) <= MAX_CELL_CHARS else source[:MAX_CELL_CHARS]


def solution_cells(release_dir: Path) -> list[SolutionCell]:
    """The code cells with nbgrader `solution: true` of every release notebook in
    `release_dir`, in notebook and cell order."""
    cells = []
    for path in sorted(release_dir.glob("*.ipynb")):
        try:
            nb = read_notebook(path)
        except NotebookError as exc:
            raise CourseError(f"{exc}; run `cs231n release {release_dir.name}`") from None
        code = [c for c in nb.cells if c.cell_type == "code"]
        keep: frozenset[str] = frozenset()
        for cell in code:
            keep |= imported_names(parse(cell.source))
        for cell in code:
            if nbgrader_metadata(cell).get("solution") and grade_id(cell):
                released = normalize(cell.source, keep)
                cells.append(SolutionCell(path.name, grade_id(cell), cell.source, released, keep))
    return cells


def _version(student: str, cell: SolutionCell, source: str) -> CellVersion | None:
    """The student's version of `cell`, or None if it is empty or left as released."""
    mine = normalize(source, cell.keep)
    if not mine.text or mine.tokens(cell.released) == cell.released.tokens(mine):
        return None
    own_ast = None
    if mine.ast is not None and cell.released.ast is not None:
        own_ast = own_tokens(mine.ast, cell.released.ast)
    own_text = own_tokens(mine.text, cell.released.text)
    definitions = _top_level_definitions(source, cell.keep)
    return CellVersion(student, cell, source, mine, own_ast, own_text, definitions)


def _top_level_definitions(source: str, keep: frozenset[str]):
    """(name, source, tokens) of each top-level def and class of a cell that parses."""
    source = python_source(source)
    tree = parse(source)
    if tree is None:
        return ()
    keep, lines = keep | imported_names(tree), source.splitlines()
    return tuple(
        (node.name, _segment(lines, node), ast_tokens(node, keep))
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    )


def collect_versions(
    folder: Path, assignment: str, students: list[str], cells: list[SolutionCell]
) -> tuple[list[CellVersion], list[str]]:
    """Every student's versions of the solution cells, read from
    `folder`/<student>/<assignment>/<notebook>, and notes on what could not be read."""
    versions, notes = [], []
    for student in students:
        by_notebook: dict[str, dict[str, str] | None] = {}
        for cell in cells:
            if cell.notebook not in by_notebook:
                path = folder / student / assignment / cell.notebook
                by_notebook[cell.notebook] = _cell_sources(path, student, notes)
            sources = by_notebook[cell.notebook]
            if sources is None:
                continue
            if cell.grade_id not in sources:
                notes.append(f"{student}: {cell.notebook} has no cell {cell.grade_id}")
                continue
            source = sources[cell.grade_id]
            if len(source) > MAX_CELL_CHARS:
                notes.append(
                    f"{student}: {cell.notebook} {cell.grade_id} has {len(source):,} "
                    f"characters; compared on its first {MAX_CELL_CHARS:,}"
                )
            version = _version(student, cell, _cut(source))
            if version is not None:
                versions.append(version)
    return versions, notes


def _cell_sources(path: Path, student: str, notes: list[str]) -> dict[str, str] | None:
    """grade_id -> source of the code cells of the notebook at `path` (the first cell of
    a grade_id wins), or None with a note when it is missing or unreadable."""
    if not path.is_file():
        notes.append(f"{student}: no {path.name} submitted")
        return None
    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        notes.append(f"{student}: {exc}")
        return None
    sources: dict[str, str] = {}
    for cell in nb.cells:
        key = grade_id(cell)
        if cell.get("cell_type") == "code" and isinstance(key, str) and key not in sources:
            sources[key] = str(cell.get("source", ""))
    return sources


# ---- comparing ----------------------------------------------------------------------------


def _candidates(
    index: dict[str, list[Definition]],
    name: str,
    equivalents: Mapping[str, Sequence[str]] | None,
) -> list[Definition]:
    """The package's definitions named `name` or one of its equivalents."""
    names = [name, *(equivalents or {}).get(name, ())]
    return [found for n in dict.fromkeys(names) for found in index.get(n, [])]


def package_matches(
    version: CellVersion,
    index: dict[str, list[Definition]],
    threshold: float,
    min_tokens: int,
    tick=lambda: None,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Match], int]:
    """Each of the cell's defs and classes against the package's of the same name (and of
    the names `equivalents` gives for it): the best match per name at or above
    `threshold`, and how many comparisons were made."""
    matches, compared = [], 0
    for name, source, tokens in version.definitions:
        if len(tokens) < min_tokens:
            continue
        best: tuple[float, Definition] | None = None
        for candidate in _candidates(index, name, equivalents):
            compared += 1
            tick()
            score = _at_least(tokens, candidate.tokens, threshold)
            if score is not None and (best is None or score > best[0]):
                best = (score, candidate)
        if best is not None:
            score, found = best
            matches.append(
                Match(
                    score,
                    version.cell.notebook,
                    version.cell.grade_id,
                    version.student,
                    f"package: {found.path}",
                    "ast",
                    source,
                    found.source,
                    name=found.qualname,
                    line=found.line,
                )
            )
    return matches, compared


def _long_enough(versions: list[CellVersion], min_tokens: int) -> list[CellVersion]:
    """The versions with at least `min_tokens` tokens of their own code."""
    return [v for v in versions if len(v.own()) >= min_tokens]


def pair_matches(
    versions: list[CellVersion], threshold: float, min_tokens: int, tick=lambda: None
) -> tuple[list[Match], int]:
    """Every pair of students' versions of one cell scored on their own code: those at
    or above `threshold`, and how many pairs were scored."""
    eligible = _long_enough(versions, min_tokens)
    matches, scored = [], 0
    for i, first in enumerate(eligible):
        for second in eligible[i + 1 :]:
            scored += 1
            tick()
            score = _at_least(first.own(second), second.own(first), threshold)
            if score is None:
                continue
            method = _method(first.normalized, second.normalized)
            a, b = sorted([first, second], key=lambda v: v.student)
            matches.append(
                Match(
                    score,
                    a.cell.notebook,
                    a.cell.grade_id,
                    a.student,
                    b.student,
                    method,
                    a.source,
                    b.source,
                )
            )
    return matches, scored


def similarity_report(
    root: Path,
    assignment: str,
    *,
    source: str = "submitted",
    threshold: float = DEFAULT_THRESHOLD,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    progress: bool = False,
    package_dir: Path = PACKAGE_DIR,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> Report:
    """Compare every student's solution cells of `assignment` in the course at `root`
    (read from `source`: "submitted" or "autograded") with the package and with each other.

    Raises CourseError for an unknown assignment, a missing release or no submissions.
    `progress` shows a tqdm bar on stderr from MANY_COMPARISONS comparisons on.
    `equivalents` maps an exercise name to package names that implement the same thing
    under another name (e.g. {"svm_loss_vectorized": ("svm_loss",)}): those are compared
    too.
    """
    start = time.perf_counter()
    if source not in SOURCES:
        raise ValueError(f"source {source!r} must be one of {', '.join(SOURCES)}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} must be between 0 and 1")
    check_assignment(root, assignment)
    folder = root / source
    students = _students(folder, assignment)
    if not students:
        hint = "run `cs231n grade` first" if source == "autograded" else "collect them first"
        raise CourseError(f"no submissions of {assignment} in {folder}/<student>/; {hint}")
    release_dir = root / "assignments" / assignment
    cells = solution_cells(release_dir)
    if not cells:
        raise CourseError(
            f"no solution cells in {release_dir}; run `cs231n release {assignment}` first"
        )
    report = Report(assignment, source, threshold, students, cells=len(cells))
    versions, report.notes = collect_versions(folder, assignment, students, cells)
    report.versions = len(versions)
    report.notes += [
        f"{v.student}: {v.cell.notebook} {v.cell.grade_id} does not parse; compared as tokens"
        for v in versions
        if v.normalized.ast is None
    ]
    index = package_definitions(package_dir)
    by_cell: dict[tuple[str, str], list[CellVersion]] = {}
    for version in versions:
        by_cell.setdefault((version.cell.notebook, version.cell.grade_id), []).append(version)
    counts = [len(_long_enough(group, min_tokens)) for group in by_cell.values()]
    total = sum(n * (n - 1) // 2 for n in counts)
    total += sum(
        len(_candidates(index, name, equivalents))
        for v in versions
        for name, _, tokens in v.definitions
        if len(tokens) >= min_tokens
    )
    with _bar(total, progress) as bar:
        for version in versions:
            found, compared = package_matches(
                version, index, threshold, min_tokens, bar.update, equivalents
            )
            report.matches += found
            report.package_comparisons += compared
        for group in by_cell.values():
            found, scored = pair_matches(group, threshold, min_tokens, bar.update)
            report.matches += found
            report.pairs += scored
    report.matches.sort(key=lambda m: (-m.score, m.notebook, m.cell, m.student, m.other))
    report.seconds = time.perf_counter() - start
    return report


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm

    show = progress and total >= MANY_COMPARISONS
    return tqdm(total=total, unit="pair", desc="comparing", file=sys.stderr, disable=not show)


# ---- output -------------------------------------------------------------------------------


def _cell_label(match: Match) -> str:
    if match.name and match.name != match.cell:
        return f"{match.cell}: {match.name}"
    return match.cell


def _other_label(match: Match) -> str:
    """The right-hand heading: a student's id, or the package file, definition and line."""
    if match.line is None:
        return match.other
    return f"{match.other}, {match.name} (line {match.line})"


def _fit(text: str, width: int = 40) -> str:
    text = one_line(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def summary_line(report: Report) -> str:
    """One line: what was compared, in how long, and how many pairs were found."""
    return (
        f"similarity of {report.assignment} ({report.source}/): {len(report.students)} "
        f"students x {report.cells} solution cells, {report.versions} of them written "
        f"(the others as released or empty); {report.pairs:,} student pairs and "
        f"{report.package_comparisons:,} package comparisons in {report.seconds:.1f} s; "
        f"{len(report.matches)} at or above {report.threshold:g}"
    )


def format_table(report: Report) -> str:
    """The summary, the matches as a table (score, student, compared with, notebook,
    cell) and the notes; everything a submission wrote is escaped (`one_line`)."""
    rows = [("score", "student", "compared with", "notebook", "cell")]
    rows += [
        (
            f"{m.score:.3f}" + ("*" if m.method == "tokens" else ""),
            _fit(m.student),
            _fit(m.other, 48),
            _fit(m.notebook),
            _fit(_cell_label(m), 60),
        )
        for m in report.matches
    ]
    lines = [summary_line(report)]
    if report.matches:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        if any(m.method == "tokens" for m in report.matches):
            lines.append("* compared as tokens: a cell of the pair does not parse")
    lines += [f"note: {one_line(note)}" for note in report.notes]
    return "\n".join(lines)


def _shown_code(source: str) -> str:
    """Code for a <pre>: capped, tabs expanded, control and bidirectional characters
    made visible (`one_line`, per line), then HTML-escaped."""
    text = cap_text(source, MAX_CELL_CHARS)
    lines = [one_line(line.expandtabs(4), limit=MAX_CELL_CHARS) for line in text.splitlines()]
    return html.escape("\n".join(lines), quote=True)


def _esc(text: object) -> str:
    return html.escape(one_line(text), quote=True)


_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.notes { color: #555; }
"""


def render_html(report: Report) -> str:
    """A self-contained page: the summary, the table of matches, and each pair's code side
    by side. Every piece of text is HTML-escaped, and the page forbids scripts (CSP)."""
    title = f"Similarity of {report.assignment}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        f"<p>{_esc(summary_line(report))}. Pairs of students are scored on their own code "
        f"(the release's skeleton removed); a package match compares whole definitions.</p>",
    ]
    if report.notes:
        parts.append('<ul class="notes">')
        parts += [f"<li>{_esc(note)}</li>" for note in report.notes]
        parts.append("</ul>")
    if report.matches:
        parts.append("<table><tr><th>#</th><th>score</th><th>student</th><th>compared with</th>")
        parts.append("<th>notebook</th><th>cell</th><th>compared as</th></tr>")
        for number, m in enumerate(report.matches, 1):
            parts.append(
                f'<tr><td><a href="#pair-{number}">{number}</a></td><td>{m.score:.3f}</td>'
                f"<td>{_esc(m.student)}</td><td>{_esc(m.other)}</td><td>{_esc(m.notebook)}</td>"
                f"<td>{_esc(_cell_label(m))}</td><td>{_esc(m.method)}</td></tr>"
            )
        parts.append("</table>")
    for number, m in enumerate(report.matches, 1):
        parts += [
            f'<section id="pair-{number}"><h2>{number}. {m.score:.3f}: {_esc(m.student)} and '
            f"{_esc(m.other)}, {_esc(m.notebook)} {_esc(_cell_label(m))}</h2>",
            '<div class="pair">',
            f"<div><h3>{_esc(m.student)}</h3><pre>{_shown_code(m.source)}</pre></div>",
            f"<div><h3>{_esc(_other_label(m))}</h3><pre>{_shown_code(m.other_source)}</pre></div>",
            "</div></section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(report: Report, path: Path) -> Path:
    """Write `render_html(report)` to `path` (folders made as needed); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
