"""Numerical gradients by centred differences, and checks of analytic gradients against them.

For a scalar function f and an array x, entry i of the gradient is estimated as

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

whose error is O(h^2) from truncation plus about eps * |f| / h from rounding
(eps ~ 2.2e-16 in float64). With h = 1e-5 and |f| of order 1 a correct analytic gradient
agrees to a relative error of about 1e-8 or better; a wrong one is usually off by 1e-2 or more.

Relative error of one entry, analytic a against numeric n, as `check_gradient` and
`grad_check_sparse` measure it:

    |a - n| / max(GRAD_FLOOR, |a| + |n|)

The floor GRAD_FLOOR = 1e-3 keeps entries where both gradients are about 0 (a ReLU that
is off, a term that cancels) from showing a huge relative error made of rounding noise
alone: below the floor the test is the absolute one |a - n| <= tol * GRAD_FLOOR (1e-9 for
the default tol = 1e-6). `rel_error` keeps the classic floor of 1e-8 for comparing any
two arrays.

All functions evaluate f twice per checked entry, so a full check of an array with D
entries costs 2 D calls of f: use `num_checks` (or `grad_check_sparse`) for large arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

GRAD_FLOOR = 1e-3  # absolute floor of |a| + |n| in a gradient check's relative error
_REL_ERROR_FLOOR = 1e-8  # floor of |x| + |y| in rel_error

Index = tuple[int, ...]


def rel_error(x, y) -> float:
    """Largest relative error max_i |x_i - y_i| / max(1e-8, |x_i| + |y_i|).

    Inputs:
    - x, y: arrays (or scalars) of the same shape.
    Returns a Python float; 0.0 for empty arrays, nan when any entry is nan.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):  # inf - inf is nan, and says so below
        errors = np.abs(x - y) / np.maximum(_REL_ERROR_FLOOR, np.abs(x) + np.abs(y))
    return float(np.max(errors))


def _check_x(x, h: float) -> None:
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = f"array of {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"x must be a numpy array of floats, perturbed in place; got {kind}: "
            f"convert it first, e.g. x = x.astype(np.float64)"
        )
    if not h > 0:
        raise ValueError(f"the step h must be positive, got {h!r}")


def _as_scalar(value) -> float:
    if isinstance(value, tuple):
        raise TypeError(
            f"f must return a scalar, got a tuple of {len(value)}; if it returns "
            f"(loss, grads), check lambda x: f(x)[0]"
        )
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise TypeError(
            f"f must return a scalar, got an array of shape {arr.shape}; for an array-valued "
            f"f use eval_numerical_gradient_array with an upstream gradient dout"
        )
    return float(arr.reshape(()))


def _snapshot(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _centred_difference(f: Callable, x: np.ndarray, index: Index, h: float):
    """Return (f(x + h e_i), f(x - h e_i), step) for entry `index`; x is restored after.

    `step` is the distance between the two points as stored in x's dtype.
    """
    old = x[index].copy()
    try:
        x[index] = old + h
        x_plus = float(x[index])
        # NOTE: copy, because f may return x itself or a buffer it reuses on the next call.
        f_plus = _snapshot(f(x))
        x[index] = old - h
        x_minus = float(x[index])
        f_minus = _snapshot(f(x))
    finally:
        x[index] = old
    # NOTE: divide by the step actually stored, not 2h: x + h rounds (badly so in float32).
    return f_plus, f_minus, x_plus - x_minus


def _numeric_entry(f: Callable, x: np.ndarray, index: Index, h: float) -> float:
    f_plus, f_minus, step = _centred_difference(f, x, index, h)
    return (_as_scalar(f_plus) - _as_scalar(f_minus)) / step


def _numeric_entry_array(
    f: Callable, x: np.ndarray, dout: np.ndarray, index: Index, h: float
) -> float:
    f_plus, f_minus, step = _centred_difference(f, x, index, h)
    f_plus, f_minus = np.asarray(f_plus), np.asarray(f_minus)
    if f_plus.shape != dout.shape:
        raise ValueError(f"f(x) has shape {f_plus.shape} but dout has shape {dout.shape}")
    # Difference first, then weight: sum((f+ - f-) * dout) loses less to rounding than
    # sum(f+ * dout) - sum(f- * dout).
    return float(np.sum((f_plus - f_minus) * dout)) / step


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of a scalar function f at x, by centred differences.

    Inputs:
    - f: function of one argument, f(x) -> scalar (a Python or numpy number, or a size-1 array).
    - x: float array of any shape (D_1, ..., D_k); perturbed in place one entry at a time
      and restored afterwards, also when f raises.
    - h: step of the finite difference.
    Returns grad, a float64 array of the same shape as x, grad[i] ~ df/dx[i].
    """
    _check_x(x, h)
    grad = np.zeros(x.shape, dtype=float)
    for index in np.ndindex(x.shape):
        grad[index] = _numeric_entry(f, x, index, h)
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of sum(f(x) * dout) with respect to x, for an array-valued f.

    This is what a layer's backward pass computes: given the upstream gradient dout of
    the loss with respect to the layer's output, the gradient with respect to its input x.

    Inputs:
    - f: function of one argument, f(x) -> array of shape S (copied after each call).
    - x: float array of any shape (D_1, ..., D_k); perturbed in place and restored.
    - dout: upstream gradient, array of shape S.
    - h: step of the finite difference.
    Returns dx, a float64 array of the same shape as x.
    """
    _check_x(x, h)
    dout = np.asarray(dout, dtype=float)
    grad = np.zeros(x.shape, dtype=float)
    for index in np.ndindex(x.shape):
        grad[index] = _numeric_entry_array(f, x, dout, index, h)
    return grad


def _entry_error(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """Per-entry relative error with the GRAD_FLOOR floor; nan where either value is nan."""
    with np.errstate(invalid="ignore"):
        return np.abs(analytic - numeric) / np.maximum(
            GRAD_FLOOR, np.abs(analytic) + np.abs(numeric)
        )


def _random_indices(shape: tuple[int, ...], num_checks: int, seed: int) -> list[Index]:
    """`num_checks` distinct indices into an array of `shape` (all of them if it is smaller)."""
    if num_checks < 1:
        raise ValueError(f"num_checks must be at least 1, got {num_checks}")
    size = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    flat = rng.choice(size, size=min(num_checks, size), replace=False)
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int = 0,
) -> list[tuple[Index, float, float, float]]:
    """Compare an analytic gradient with the numerical one at a few random entries.

    Inputs:
    - f: scalar function of x, f(x) -> scalar.
    - x: float array of shape (D_1, ..., D_k); perturbed in place and restored.
    - analytic_grad: array of the same shape as x, the gradient to check.
    - num_checks: number of distinct entries to check (all of x when it has fewer).
    - h: step of the finite difference.
    - seed: seed of np.random.default_rng that picks the entries; same seed, same entries.
    Returns one tuple (index, analytic, numeric, relative error) per checked entry, where
    the relative error has the GRAD_FLOOR floor of the module docstring. Never prints.
    """
    _check_x(x, h)
    analytic_grad = np.asarray(analytic_grad, dtype=float)
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape}, x has shape {x.shape}")
    results = []
    for index in _random_indices(x.shape, num_checks, seed):
        analytic = float(analytic_grad[index])
        numeric = _numeric_entry(f, x, index, h)
        error = float(_entry_error(np.float64(analytic), np.float64(numeric)))
        results.append((index, analytic, numeric, error))
    return results


def check_gradient(
    f: Callable[..., float | np.ndarray],
    inputs: Mapping[str, np.ndarray],
    analytic: Mapping[str, np.ndarray],
    dout: np.ndarray | None = None,
    tol: float = 1e-6,
    h: float = 1e-5,
    num_checks: int | None = None,
    seed: int = 0,
) -> None:
    """Assert that analytic gradients match numerical ones for each argument they name.

    Inputs:
    - f: called as f(**inputs); returns a scalar when dout is None, else an array of
      dout's shape, and then the gradient of sum(f(**inputs) * dout) is checked.
    - inputs: argument name -> value. Each checked argument is copied to float64 and
      perturbed in the copy, so the caller's arrays are never modified.
    - analytic: argument name -> its analytic gradient, of the same shape as the argument.
    - dout: upstream gradient, or None for a scalar f.
    - tol: largest allowed relative error per entry (with the GRAD_FLOOR floor).
    - h: step of the finite difference.
    - num_checks: None checks every entry; a number checks that many random entries.
    - seed: seed for picking the entries when num_checks is given.
    Raises ValueError if `analytic` names an argument that is not in `inputs`, and
    AssertionError if a gradient is None, has the wrong shape or differs anywhere; the
    message names the argument and its worst entry: index, both values, relative error.
    """
    unknown = [name for name in analytic if name not in inputs]
    if unknown:
        raise ValueError(
            f"analytic gradients given for {unknown}, which are not arguments of f; "
            f"the inputs are {sorted(inputs)}"
        )
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    dout = None if dout is None else np.asarray(dout, dtype=float)

    grads = {}
    for name, grad in analytic.items():
        if grad is None:
            raise AssertionError(
                f"gradient of {name!r} is None: did the backward pass forget to return it?"
            )
        grad = np.asarray(grad, dtype=float)
        shape = np.shape(inputs[name])
        if grad.shape != shape:
            raise AssertionError(
                f"gradient of {name!r} has shape {grad.shape}, but {name!r} has shape {shape}"
            )
        grads[name] = grad

    failures = []
    for name, grad in grads.items():
        x = np.array(inputs[name], dtype=float)  # a copy: the caller's array stays as it is
        kwargs = {**inputs, name: x}

        def f_of_x(_x, kwargs=kwargs):
            return f(**kwargs)  # kwargs[name] is x, which is being perturbed in place

        if num_checks is None:
            indices = list(np.ndindex(x.shape))
        else:
            indices = _random_indices(x.shape, num_checks, seed)
        if dout is None:
            numeric = np.array([_numeric_entry(f_of_x, x, i, h) for i in indices])
        else:
            numeric = np.array([_numeric_entry_array(f_of_x, x, dout, i, h) for i in indices])
        checked = np.array([grad[i] for i in indices])
        errors = _entry_error(checked, numeric)
        wrong = ~(errors <= tol)  # nan counts as wrong
        if wrong.any():
            worst = int(np.argmax(np.where(np.isnan(errors), np.inf, errors)))
            failures.append(
                f"gradient of {name!r} is wrong at index {indices[worst]}: "
                f"analytic {checked[worst]:.6g}, numeric {numeric[worst]:.6g}, "
                f"relative error {errors[worst]:.1e} (allowed {tol:.2g}); "
                f"{int(wrong.sum())} of {len(indices)} checked entries are wrong"
            )
    if failures:
        raise AssertionError("\n".join(failures))
