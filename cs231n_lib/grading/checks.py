"""Assertions for notebook test cells, with messages written for a student.

Each check raises AssertionError that says what was compared, what was expected and
where the first or worst difference is. They never print: nbgrader scores a test cell
0 when it writes to stderr, and a check that only prints cannot fail.
"""

from __future__ import annotations

import types
from collections.abc import Iterable

import numpy as np


def _as_array(value, name: str) -> np.ndarray:
    if value is None:
        raise AssertionError(
            f"{name} is None: did the function forget to `return` its result?"
        )
    try:
        return np.asarray(value)
    except Exception as exc:  # a ragged list, an object that is not array-like
        raise AssertionError(
            f"{name} could not be turned into an array ({type(value).__name__}): {exc}"
        ) from None


def check_shape(actual, expected_shape: tuple, name: str = "result") -> None:
    """Assert that `actual` has exactly `expected_shape`."""
    arr = _as_array(actual, name)
    if tuple(arr.shape) != tuple(expected_shape):
        raise AssertionError(
            f"{name} has shape {tuple(arr.shape)}, expected {tuple(expected_shape)}"
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
    act = _as_array(actual, name).astype(float, copy=False)
    exp = np.asarray(expected, dtype=float)
    suffix = f"\nHint: {hint}" if hint else ""
    if act.shape != exp.shape:
        raise AssertionError(
            f"{name} has shape {act.shape}, expected {exp.shape}{suffix}"
        )
    bad_nan = np.isnan(act) & ~np.isnan(exp)
    if bad_nan.any():
        index = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise AssertionError(
            f"{name} contains NaN ({int(bad_nan.sum())} entries, first at index {index}) "
            f"where the reference is {exp[index]!r}: look for 0/0, log(0) or an overflow{suffix}"
        )
    err = np.abs(act - exp)
    tol = atol + rtol * np.abs(exp)
    wrong = ~(err <= tol) & ~(np.isnan(act) & np.isnan(exp))
    if wrong.any():
        worst = np.unravel_index(np.argmax(np.where(wrong, err - tol, -np.inf)), act.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if act.ndim else ""
        raise AssertionError(
            f"{name} differs from the reference in {int(wrong.sum())} of {act.size} entries; "
            f"worst{where}: got {act[worst]:.6g}, expected {exp[worst]:.6g} "
            f"(abs error {err[worst]:.3g}, allowed {tol[worst]:.3g}){suffix}"
        )


def check_equal(actual, expected, name: str = "result", hint: str = "") -> None:
    """Assert exact equality of arrays or scalars (labels, counts, indices)."""
    act = _as_array(actual, name)
    exp = np.asarray(expected)
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
            f"{first}: got {act[first]!r}, expected {exp[first]!r}{suffix}"
        )


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_varnames)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def assert_own_implementation(func, forbidden: Iterable[str]) -> None:
    """Assert that `func` does not call any of the `forbidden` names (library shortcuts).

    Looks at every global, attribute and local name the compiled function uses, including
    nested functions, so `scipy.spatial.distance.cdist` is caught as `cdist`.
    """
    if not callable(func) or not hasattr(func, "__code__"):
        raise AssertionError(f"{func!r} is not a Python function defined in this notebook")
    used = sorted(_names_used(func.__code__) & set(forbidden))
    if used:
        raise AssertionError(
            f"{func.__name__} uses {', '.join(used)}: this exercise asks for your own "
            f"implementation with numpy; the library version is what the tests compare with"
        )
