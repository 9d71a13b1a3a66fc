"""Assertions for notebook test cells, with messages written for a student.

Each check raises AssertionError that says what was compared, what was expected and
where the first or worst difference is. They never print: nbgrader scores a test cell
0 when it writes to stderr, and a check that only prints cannot fail.
"""

from __future__ import annotations

import contextlib
import dis
import os
import types
from collections.abc import Callable, Iterable, Iterator, MutableMapping

import numpy as np

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


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_varnames)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _has_loop(code: types.CodeType) -> bool:
    # A loop compiles to FOR_ITER or to a jump backwards (JUMP_BACKWARD, and in 3.11
    # POP_JUMP_BACKWARD_IF_TRUE and friends for `while`); comprehensions are nested code.
    if any(
        ins.opname == "FOR_ITER" or "BACKWARD" in ins.opname for ins in dis.get_instructions(code)
    ):
        return True
    return any(_has_loop(c) for c in code.co_consts if isinstance(c, types.CodeType))


def assert_no_loops(func) -> None:
    """Assert that `func` has no Python loop: no for, while or comprehension."""
    if not hasattr(func, "__code__"):
        raise AssertionError(f"{func!r} is not a Python function defined in this notebook")
    if _has_loop(func.__code__):
        raise AssertionError(
            f"{func.__name__} contains a Python loop (for, while or a comprehension); this "
            f"exercise asks for whole-array numpy operations (broadcasting, matrix products)"
        )


def _forbidden_uses(func, forbidden: set[str], seen: set[int]) -> set[str]:
    """Forbidden names used by `func` or by the functions of its own module it calls."""
    if id(func) in seen:
        return set()
    seen.add(id(func))
    used = _names_used(func.__code__)
    found = used & forbidden
    for name in used:
        value = func.__globals__.get(name)
        if value is None or value is func:
            continue
        # An alias such as `dist = cdist` still carries the library function's name.
        if getattr(value, "__name__", None) in forbidden and callable(value):
            found.add(value.__name__)
        # Helpers the student defined next to the function are inspected as well.
        if isinstance(value, types.FunctionType) and value.__module__ == func.__module__:
            found |= _forbidden_uses(value, forbidden, seen)
    return found


def assert_own_implementation(func, forbidden: Iterable[str]) -> None:
    """Assert that `func` does not call any of the `forbidden` names (library shortcuts).

    Looks at every global, attribute and local name the compiled function uses, including
    nested functions, aliases of library functions and helper functions defined in the
    same notebook, so `scipy.spatial.distance.cdist` is caught as `cdist`.
    """
    if not callable(func) or not hasattr(func, "__code__"):
        raise AssertionError(f"{func!r} is not a Python function defined in this notebook")
    used = sorted(_forbidden_uses(func, set(forbidden), set()))
    if used:
        raise AssertionError(
            f"{func.__name__} uses {', '.join(used)}: this exercise asks for your own "
            f"implementation with numpy; the library version is what the tests compare with"
        )


@contextlib.contextmanager
def swapped(namespace: MutableMapping, **functions: Callable) -> Iterator[None]:
    """Put `functions` into `namespace` (a notebook's globals()) for the `with` block only.

    A test of one function that calls a sibling exercise swaps in a correct sibling (from
    `cs231n_lib.reference`), so a bug in the sibling fails only the sibling's own test:

        with swapped(globals(), affine_forward=ref_affine_forward):
            check_close(affine_relu_forward(x, w, b)[0], expected, "affine_relu_forward")

    The student's functions are put back afterwards, also when a check fails.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in functions}
    namespace.update(functions)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
