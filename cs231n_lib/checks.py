"""Assertions for notebook test cells, with messages written for a student.

Each check raises AssertionError that says what was compared, what was expected and
where the first or worst difference is. They never print: nbgrader scores a test cell
0 when it writes to stderr, and a check that only prints cannot fail.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, MutableMapping

import numpy as np

from cs231n_lib import codescan

DEFAULT_CASE_SEED = 231  # the seed of randomized test cases when CS231N_TEST_SEED is unset


def case_seed(offset: int = 0) -> int:
    """The seed of a test cell's random cases: CS231N_TEST_SEED (default 231) plus `offset`.

    Grading uses the default, so a grade is reproducible; the flakiness check of the test
    suite runs every test cell under other seeds to prove that no case passes by luck.
    Use one offset per generator in a cell (0, 1, ...), e.g. `torch.manual_seed(case_seed())`.
    """
    value = os.environ.get("CS231N_TEST_SEED", "").strip()
    try:
        base = int(value) if value else DEFAULT_CASE_SEED
    except ValueError:
        raise ValueError(f"CS231N_TEST_SEED={value!r} must be an integer") from None
    return base + offset


def case_rng(offset: int = 0) -> np.random.Generator:
    """A numpy Generator for a test cell's random cases, seeded by `case_seed(offset)`."""
    return np.random.default_rng(case_seed(offset))


def _as_array(value, name: str) -> np.ndarray:
    if value is None:
        raise AssertionError(f"{name} is None: did the function forget to `return` its result?")
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        # NOTE: a tensor that requires grad or lives on a GPU refuses np.asarray.
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # a ragged list, an object that is not array-like
        raise AssertionError(
            f"{name} could not be turned into an array ({type(value).__name__}): {exc}"
        ) from None


def check_shape(actual, expected_shape: tuple, name: str = "result", hint: str = "") -> None:
    """Assert that `actual` (an array, a list or a torch tensor) has exactly `expected_shape`."""
    arr = _as_array(actual, name)
    if tuple(arr.shape) != tuple(expected_shape):
        suffix = f"\nHint: {hint}" if hint else ""
        raise AssertionError(
            f"{name} has shape {tuple(arr.shape)}, expected {tuple(expected_shape)}{suffix}"
        )


def check_close(
    actual,
    expected,
    name: str = "result",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    hint: str = "",
) -> None:
    """Assert |actual - expected| <= atol + rtol * |expected| everywhere.

    On failure the message gives both shapes, the number of wrong entries, the index of
    the worst one with both values there, and `hint` (what a common mistake looks like).
    """
    act = _as_array(actual, name)
    try:
        act = act.astype(float, copy=False)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{name} holds {act.dtype} values, expected numbers like {np.asarray(expected)!r}"
        ) from None
    exp = _as_array(expected, "the reference").astype(float)
    suffix = f"\nHint: {hint}" if hint else ""
    if act.shape != exp.shape:
        raise AssertionError(f"{name} has shape {act.shape}, expected {exp.shape}{suffix}")
    bad_nan = np.isnan(act) & ~np.isnan(exp)
    if bad_nan.any():
        index = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise AssertionError(
            f"{name} contains NaN ({int(bad_nan.sum())} entries, first at index {index}) "
            f"where the reference is {exp[index].item()!r}: look for 0/0, log(0) or an "
            f"overflow{suffix}"
        )
    # Equal entries (infinities included) pass; an infinite reference is matched only
    # by the same infinity, never by a finite value.
    with np.errstate(invalid="ignore", over="ignore"):
        same = (act == exp) | (np.isnan(act) & np.isnan(exp))
        err = np.where(same, 0.0, np.abs(act - exp))
        tol = np.where(np.isinf(exp), 0.0, atol + rtol * np.abs(exp))
        wrong = ~same & ~(err <= tol)
        if wrong.any():
            excess = np.where(wrong, np.nan_to_num(err - tol, nan=np.inf, posinf=np.inf), -1.0)
            worst = np.unravel_index(np.argmax(excess), act.shape)
            where = f" at index {tuple(int(i) for i in worst)}" if act.ndim else ""
            raise AssertionError(
                f"{name} differs from the reference in {int(wrong.sum())} of {act.size} "
                f"entries; worst{where}: got {act[worst]:.6g}, expected {exp[worst]:.6g} "
                f"(abs error {err[worst]:.3g}, allowed {tol[worst]:.3g}){suffix}"
            )


def check_equal(actual, expected, name: str = "result", hint: str = "") -> None:
    """Assert exact equality of arrays or scalars (labels, counts, indices)."""
    act = _as_array(actual, name)
    exp = _as_array(expected, "the reference")
    suffix = f"\nHint: {hint}" if hint else ""
    if act.shape != exp.shape:
        raise AssertionError(f"{name} has shape {act.shape}, expected {exp.shape}{suffix}")
    wrong = act != exp
    if np.any(wrong):
        if act.ndim == 0:
            raise AssertionError(f"{name} is {act.item()!r}, expected {exp.item()!r}{suffix}")
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise AssertionError(
            f"{name} differs in {int(np.sum(wrong))} of {act.size} entries; first at index "
            f"{first}: got {act[first].item()!r}, expected {exp[first].item()!r}{suffix}"
        )


SourceLookup = Callable[[object], codescan.ImplementationSource | None]
_source_lookup: SourceLookup | None = None  # set by the trusted grading process
_flag_sink: Callable[[str], None] | None = None  # where dynamic lookups are reported


def set_source_lookup(lookup: SourceLookup | None) -> SourceLookup | None:
    """Make the own-implementation checks read sources through `lookup`; returns the previous one.

    `lookup(func)` returns a `codescan.ImplementationSource` (the function's source, the
    notebook's other definitions and its aliases) or None for the default: `inspect` on a
    function or class of this process. The trusted grading process sets one that reads the
    submitted notebook's cells, where `func` is a proxy rather than a function.
    """
    global _source_lookup
    previous, _source_lookup = _source_lookup, lookup
    return previous


def set_flag_sink(sink: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Send each dynamic lookup that assert_own_implementation finds (getattr with a computed
    name, eval, importlib...) to `sink(message)`; returns the previous sink.

    None (the default) reports nothing: a test cell must not write to stderr. Dynamic
    lookups never fail the check; they are for the instructor to look at.
    """
    global _flag_sink
    previous, _flag_sink = _flag_sink, sink
    return previous


def _implementation(func) -> codescan.ImplementationSource:
    """The source the checks read for `func`: from the lookup hook, else from `inspect`."""
    if _source_lookup is not None:
        found = _source_lookup(func)
        if found is not None:
            return found
    try:
        return codescan.source_of(func)
    except TypeError:
        raise AssertionError(
            f"{func!r} is not a Python function or class defined in this notebook: pass the "
            f"function itself, e.g. assert_own_implementation(my_function, [...])"
        ) from None
    except OSError:
        raise AssertionError(
            f"the source of {getattr(func, '__name__', func)} is not available, so it cannot "
            f"be checked: define it in a notebook cell (not with exec) and run that cell again"
        ) from None


def _parsed(check: Callable, impl: codescan.ImplementationSource):
    try:
        return check(impl)
    except SyntaxError as exc:
        raise AssertionError(
            f"the source of {impl.name} is not valid Python ({exc.msg}, line {exc.lineno}): "
            f"fix it and run its cell again"
        ) from None


def assert_no_loops(func) -> None:
    """Assert that `func` (and the functions nested in it) has no Python loop: no for, while,
    comprehension or generator expression in its source."""
    impl = _implementation(func)
    found = _parsed(codescan.loops, impl)
    if found:
        raise AssertionError(
            f"{impl.name} contains a Python loop ({', '.join(found[:3])}); this exercise asks "
            f"for whole-array numpy operations (broadcasting, matrix products)"
        )


def _describe(use: codescan.Use, name: str) -> str:
    """What `use` is, for a student: "calls numpy.linalg.norm (through `np.linalg.norm` in
    line 3)"; `name` is the checked function."""
    if use.kind == "attribute":
        what = f"uses the attribute {use.path}"
    elif use.kind == "import":
        what = f"imports {use.path}"
    elif use.kind == "notebook":
        what = f"{'calls' if use.called else 'uses'} your notebook function {use.path}"
    else:
        what = f"{'calls' if use.called else 'uses'} {use.path}"
    where = "" if use.function == name else f" of {use.function}"
    return f"{what} (through `{use.text}` in line {use.line}{where})"


def assert_own_implementation(func, forbidden: Iterable[str]) -> None:
    """Assert that `func` does not call any of the `forbidden` library shortcuts.

    Reads the source (statically, never running it): what it calls or reaches through
    attribute chains, aliases and constant string lookups (getattr, importlib, __import__),
    in nested functions, lambdas and the notebook helpers it uses; a class is checked with
    all its methods. Local variable names never count. An entry matches a dotted path or one
    of its components ("cdist" matches scipy.spatial.distance.cdist, "torch" any torch.x.y),
    an attribute of a local value ("argsort" or ".argsort" matches x.argsort()) and a
    notebook function of that name. Dynamic lookups go to the flag sink (set_flag_sink).
    """
    forbidden = [forbidden] if isinstance(forbidden, str) else list(forbidden)
    impl = _implementation(func)
    found = _parsed(codescan.scan, impl)
    if _flag_sink is not None:
        for flag in found.flags:
            _flag_sink(f"{impl.name} (own-implementation check): {flag}")
    hits = codescan.forbidden_uses(found.uses, forbidden)
    if hits:
        parts = [_describe(use, impl.name) for _, use in hits]
        rename = [use.path for _, use in hits if use.kind == "notebook"]
        hint = (
            f" (if {', '.join(rename)} is a helper of your own, give it another name)"
            if rename
            else ""
        )
        raise AssertionError(
            f"{impl.name} {'; it also '.join(parts)}{hint}; this exercise asks for your own "
            f"implementation (it must not use {', '.join(entry for entry, _ in hits)}): the "
            f"library version is what the tests compare with"
        )


@contextlib.contextmanager
def swapped(namespace: MutableMapping, **functions: Callable) -> Iterator[None]:
    """Put `functions` into `namespace` (a notebook's globals()) for the `with` block only.

    A test of one function that calls a sibling exercise swaps in a correct sibling (from
    `cs231n_lib.reference`), so a bug in the sibling fails only the sibling's own test:

        with swapped(globals(), affine_forward=ref_affine_forward):
            check_close(affine_relu_forward(x, w, b)[0], expected, "affine_relu_forward")

    The student's functions are put back afterwards, also when a check fails. Where the
    tests run outside the student's process (grading), `namespace` holds the bridge to the
    student's kernel under "__cs231n_student__", and the swap happens there too.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in functions}
    student = namespace.get("__cs231n_student__")
    tokens = []
    namespace.update(functions)
    try:
        if student is not None:
            tokens = [student.swap(name, function) for name, function in functions.items()]
        yield
    finally:
        for token in reversed(tokens):
            student.unswap(token)
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def forward_backward(func: Callable, args: tuple, dout=None):
    """Call `func(*args)` and backpropagate `dout` (default: ones, as `output.sum()`) from
    its output: returns (output, grads), where grads mirrors `args` with each torch tensor
    replaced by its `.grad` (None where no gradient reached it) and everything else None.

    Where the tests run outside the student's process (grading), `func` is the student's
    function in the sandboxed kernel: the backward pass runs there and comes back as
    values, so use this rather than `output.backward()` in a test cell.
    """
    remote = getattr(type(func), "_call_backward", None)
    if remote is not None:
        reply = func._call_backward(tuple(args), dout)
        return reply["output"], reply["grads"]
    import torch

    output = func(*args)
    if isinstance(output, torch.Tensor) and output.grad_fn is not None:
        output.backward(torch.ones_like(output) if dout is None else torch.as_tensor(dout))
    return output, _grads_of(args)


def _grads_of(value):
    if type(value).__module__.startswith("torch") and hasattr(value, "grad"):
        return value.grad
    if isinstance(value, (list, tuple)):
        return [_grads_of(v) for v in value]
    if isinstance(value, dict):
        return {k: _grads_of(v) for k, v in value.items()}
    return None
