"""Tests of cs231n_lib.checks: assertions and their messages for test cells."""

import re
import warnings

import numpy as np
import pytest
import scipy.spatial.distance
from scipy.spatial.distance import cdist

from cs231n_lib.checks import (
    assert_no_loops,
    assert_own_implementation,
    check_close,
    check_equal,
    check_shape,
)


def message_of(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


# --- check_shape -------------------------------------------------------------------------


def test_check_shape_passes():
    check_shape(np.zeros((2, 3)), (2, 3))
    check_shape([[1, 2, 3]], [1, 3])
    check_shape(5.0, ())


def test_check_shape_fails_with_both_shapes():
    message = message_of(check_shape, np.zeros((3, 2)), (2, 3), name="dists")
    assert message == "dists has shape (3, 2), expected (2, 3)"


def test_check_shape_none_hints_at_return():
    assert "forget to `return`" in message_of(check_shape, None, (2,), name="scores")


# --- check_close -------------------------------------------------------------------------


def test_check_close_passes_within_tolerance():
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    check_close(x, x)
    check_close(x * (1 + 1e-8), x)
    check_close(x + 1e-3, x, atol=1e-2)
    check_close(np.array([1.0, np.nan]), np.array([1.0, np.nan]))  # NaN where expected
    check_close(2, 2.0)
    check_close([[1.0, 2.0]], np.array([[1.0, 2.0]]))


def test_check_close_reports_worst_index_and_values():
    expected = np.zeros((3, 4))
    actual = expected.copy()
    actual[0, 1] = 0.01
    actual[2, 3] = -5.0  # the worst
    message = message_of(check_close, actual, expected, name="dW", hint="a missing reg term")
    assert "dW differs from the reference in 2 of 12 entries" in message
    assert "worst at index (2, 3): got -5, expected 0" in message
    assert "abs error 5" in message
    assert message.endswith("\nHint: a missing reg term")


def test_check_close_respects_rtol():
    message = message_of(check_close, 1.001, 1.0, rtol=1e-4)
    assert "got 1.001, expected 1" in message and "allowed 0.0001" in message
    check_close(1.001, 1.0, rtol=1e-2)


def test_check_close_shape_mismatch_names_both_shapes():
    message = message_of(check_close, np.zeros((4, 3)), np.zeros((3, 4)), name="scores")
    assert message == "scores has shape (4, 3), expected (3, 4)"


def test_check_close_no_broadcasting():
    with pytest.raises(AssertionError, match=r"shape \(3,\), expected \(3, 1\)"):
        check_close(np.zeros(3), np.zeros((3, 1)))


def test_check_close_nan_where_reference_is_finite():
    actual = np.array([[1.0, 2.0], [np.nan, np.nan]])
    message = message_of(check_close, actual, np.ones((2, 2)), name="loss", hint="log(0)")
    assert "loss contains NaN (2 entries, first at index (1, 0))" in message
    assert re.search(r"reference is .*1\.0", message)
    assert "0/0" in message and "Hint: log(0)" in message


def test_check_close_none_and_unconvertible():
    assert "loss is None" in message_of(check_close, None, 1.0, name="loss")
    assert "could not be turned into an array" in message_of(check_close, [[1.0], [1.0, 2.0]], 1.0)


def test_check_close_finite_against_inf_fails():
    with pytest.raises(AssertionError):
        check_close(1.0, np.inf)


def test_check_close_equal_infinities_pass_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning on stderr zeroes an nbgrader test cell
        check_close(np.array([np.inf, -np.inf]), np.array([np.inf, -np.inf]))


# --- check_equal -------------------------------------------------------------------------


def test_check_equal_passes():
    check_equal(np.array([1, 2, 3]), [1, 2, 3])
    check_equal(7, 7)
    check_equal(np.array(["cat", "dog"]), ["cat", "dog"])


def test_check_equal_reports_count_and_first_index():
    message = message_of(check_equal, np.array([[1, 2], [3, 4]]), [[1, 0], [0, 4]], name="y_pred")
    assert "y_pred differs in 2 of 4 entries; first at index (0, 1)" in message
    assert re.search(r"got .*2.*, expected .*0", message)


def test_check_equal_scalar_and_shape_and_hint():
    message = message_of(check_equal, 3, 4, name="k", hint="ties go to the smaller label")
    assert message == "k is 3, expected 4\nHint: ties go to the smaller label"
    assert "has shape (2,), expected (3,)" in message_of(check_equal, [1, 2], [1, 2, 3])
    assert "is None" in message_of(check_equal, None, 3)


# --- assert_own_implementation -----------------------------------------------------------


def distances_with_cdist(X, Y):
    return cdist(X, Y)


def distances_with_module_path(X, Y):
    return scipy.spatial.distance.cdist(X, Y)


def distances_with_local_import(X, Y):
    from scipy.spatial.distance import cdist as local_cdist

    return local_cdist(X, Y)


def distances_nested(X, Y):
    def inner(a, b):
        return cdist(a, b)

    return inner(X, Y)


def distances_via_default_argument(X, Y, cdist=cdist):
    return cdist(X, Y)


def distances_in_lambda(X, Y):
    return (lambda: cdist(X, Y))()


def distances_numpy(X, Y):
    squared = (X**2).sum(axis=1)[:, None] + (Y**2).sum(axis=1)[None, :] - 2 * X @ Y.T
    return np.sqrt(np.maximum(squared, 0))  # (N, M)


@pytest.mark.parametrize(
    "func",
    [
        distances_with_cdist,
        distances_with_module_path,
        distances_with_local_import,
        distances_nested,
        distances_in_lambda,
        distances_via_default_argument,
    ],
)
def test_assert_own_implementation_catches_cdist(func):
    message = message_of(assert_own_implementation, func, ["cdist", "pdist"])
    assert message.startswith(f"{func.__name__} calls scipy.spatial.distance.cdist (through `")
    assert "it must not use cdist)" in message and "pdist" not in message


def test_assert_own_implementation_message_names_the_line_and_the_helper():
    message = message_of(assert_own_implementation, distances_nested, ["cdist"])
    assert "(through `cdist` in line 3 of distances_nested.inner)" in message


def test_assert_own_implementation_passes_numpy_version():
    X, Y = np.arange(6.0).reshape(3, 2), np.ones((2, 2))
    np.testing.assert_allclose(distances_numpy(X, Y), cdist(X, Y))
    assert_own_implementation(distances_numpy, ["cdist", "pdist", "norm"])


def test_assert_own_implementation_lists_every_forbidden_name():
    def two(X):
        return np.linalg.norm(cdist(X, X))

    message = message_of(assert_own_implementation, two, ["norm", "cdist"])
    assert message.startswith("two calls numpy.linalg.norm (through `np.linalg.norm` in line 2)")
    assert "; it also calls scipy.spatial.distance.cdist" in message
    assert "it must not use norm, cdist)" in message


def test_assert_own_implementation_rejects_non_functions():
    with pytest.raises(AssertionError, match="not a Python function"):
        assert_own_implementation(np.sqrt, ["cdist"])


def test_assert_own_implementation_catches_cdist_in_a_helper():
    def student(X, Y):
        return distances_with_cdist(X, Y)

    message = message_of(assert_own_implementation, student, ["cdist"])
    assert "(through `cdist` in line 2 of distances_with_cdist)" in message


def distances_with_forbidden_local_names(grad, backward):
    """Correct code whose locals are named like library functions (issue 13)."""
    fold = (grad**2).sum(axis=1)[:, None]
    softmax = (backward**2).sum(axis=1)[None, :]
    normalize = fold + softmax - 2 * grad @ backward.T
    norm = np.maximum(normalize, 0)
    cdist = np.sqrt(norm)
    return cdist  # (N, M)


def test_assert_own_implementation_ignores_local_names():
    X, Y = np.arange(6.0).reshape(3, 2), np.ones((2, 2))
    np.testing.assert_allclose(distances_with_forbidden_local_names(X, Y), cdist(X, Y))
    forbidden = ["grad", "backward", "fold", "softmax", "normalize", "norm", "cdist"]
    assert_own_implementation(distances_with_forbidden_local_names, forbidden)


def distances_through_strings(X, Y):
    import importlib

    norm = getattr(np.linalg, "no" + "rm")  # as a cheat would hide it
    spatial = importlib.import_module("scipy.spatial")
    return norm(X[:, None] - Y[None], axis=2) + 0 * spatial.distance.cdist(X, Y)


def test_assert_own_implementation_follows_string_lookups():
    message = message_of(assert_own_implementation, distances_through_strings, ["norm", "cdist"])
    assert "numpy.linalg.norm" in message and "scipy.spatial.distance.cdist" in message


class KnnWithCdist:
    """A class whose second method uses a library shortcut."""

    def fit(self, X):
        self.X = X
        return self

    def distances(self, Y):
        return cdist(Y, self.X)


def test_assert_own_implementation_reads_every_method_of_a_class():
    message = message_of(assert_own_implementation, KnnWithCdist, ["cdist"])
    assert message.startswith("KnnWithCdist calls scipy.spatial.distance.cdist")
    assert "of KnnWithCdist.distances)" in message
    assert_own_implementation(KnnWithCdist, ["norm", "fit"])


def test_assert_own_implementation_without_a_source():
    namespace = {"cdist": cdist}
    exec("def hidden(X):\n    return cdist(X, X)\n", namespace)
    with pytest.raises(AssertionError, match="the source of hidden is not available"):
        assert_own_implementation(namespace["hidden"], ["cdist"])


def test_source_lookup_hook_reads_a_proxy_and_none_falls_back():
    from cs231n_lib.checks import set_source_lookup
    from cs231n_lib.codescan import ImplementationSource

    proxy = object()  # what the trusted process holds instead of a student's function
    source = ImplementationSource(
        "student_distances",
        "def student_distances(X):\n    return ssd.cdist(X, X)\n",
        aliases={"ssd": "scipy.spatial.distance"},
    )
    previous = set_source_lookup(lambda func: source if func is proxy else None)
    try:
        assert "student_distances calls scipy.spatial.distance.cdist" in message_of(
            assert_own_implementation, proxy, ["cdist"]
        )
        assert_no_loops(proxy)
        assert "distances_with_cdist calls" in message_of(
            assert_own_implementation, distances_with_cdist, ["cdist"]
        )
    finally:
        assert set_source_lookup(previous) is not None
    assert "not a Python function" in message_of(assert_own_implementation, proxy, ["cdist"])


def distances_looked_up(X, name):
    return getattr(np.linalg, name)(X)


def test_dynamic_lookups_go_to_the_flag_sink_and_never_to_stderr(capsys):
    from cs231n_lib.checks import set_flag_sink

    assert_own_implementation(distances_looked_up, ["cdist"])  # a flag is no failure
    assert capsys.readouterr() == ("", "")
    flags = []
    previous = set_flag_sink(flags.append)
    try:
        assert_own_implementation(distances_looked_up, ["cdist"])
    finally:
        set_flag_sink(previous)
    assert flags == [
        "distances_looked_up (own-implementation check): distances_looked_up, line 2: getattr "
        "with a computed name (`getattr(np.linalg, name)`)"
    ]


# --- assert_no_loops ---------------------------------------------------------------------


def _vectorized(x):
    return (x**2).sum(axis=1)


def _with_for(x):
    total = 0.0
    for row in x:
        total += row.sum()
    return total


def _with_while(x):
    i = 0
    while i < len(x):
        i += 1
    return i


def _with_comprehension(x):
    return sum([row.sum() for row in x])


def test_assert_no_loops_passes_vectorized_code():
    assert_no_loops(_vectorized)


def _with_nested_generator(x):
    def inner(rows):
        return sum(row.sum() for row in rows)

    return inner(x)


def _with_loop_in_lambda(x):
    return (lambda rows: {i: r for i, r in enumerate(rows)})(x)


@pytest.mark.parametrize(
    "func",
    [_with_for, _with_while, _with_comprehension, _with_nested_generator, _with_loop_in_lambda],
)
def test_assert_no_loops_catches_every_kind_of_loop(func):
    with pytest.raises(AssertionError, match=f"{func.__name__} contains a Python loop"):
        assert_no_loops(func)


def test_assert_no_loops_names_the_loop_and_its_line():
    message = message_of(assert_no_loops, _with_for)
    assert message.startswith("_with_for contains a Python loop (a `for` loop in line 3);")


def test_assert_no_loops_passes_names_that_sound_like_loops():
    def loopless(for_each, while_true):
        iterate = for_each + while_true
        return iterate.sum()

    assert_no_loops(loopless)


def test_checks_accept_tensors_that_require_grad():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    check_close(x * 2, torch.tensor([2.0, 4.0]), "doubled")
    check_equal(x.round(), [1.0, 2.0], "rounded")
    check_shape(x, (2,), "x")
    with pytest.raises(AssertionError, match="worst at index \\(1,\\)"):
        check_close(x * 2, [2.0, 5.0], "doubled")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_checks_accept_tensors_on_the_gpu():
    import torch

    x = torch.ones(3, device="cuda", requires_grad=True)
    check_close(x, torch.ones(3, device="cuda"), "ones")
    check_shape(x, (3,), "ones")


def test_check_shape_hint():
    with pytest.raises(AssertionError, match="expected \\(3,\\)\\nHint: flatten"):
        check_shape(np.zeros((3, 1)), (3,), "scores", hint="flatten the column")


def test_case_seeds_follow_the_environment(monkeypatch):
    from cs231n_lib.checks import DEFAULT_CASE_SEED, case_rng, case_seed

    monkeypatch.delenv("CS231N_TEST_SEED", raising=False)
    assert case_seed() == DEFAULT_CASE_SEED and case_seed(2) == DEFAULT_CASE_SEED + 2
    first = case_rng(1).random(3)
    monkeypatch.setenv("CS231N_TEST_SEED", "7")
    assert case_seed(1) == 8
    assert not np.allclose(case_rng(1).random(3), first)
    np.testing.assert_array_equal(case_rng(1).random(3), np.random.default_rng(8).random(3))
    monkeypatch.setenv("CS231N_TEST_SEED", "seven")
    with pytest.raises(ValueError, match="CS231N_TEST_SEED='seven' must be an integer"):
        case_seed()


def test_swapped_restores_the_students_functions_even_on_failure():
    from cs231n_lib.checks import swapped

    namespace = {"f": "student's f"}
    with pytest.raises(AssertionError), swapped(namespace, f="reference f", g="reference g"):
        assert namespace == {"f": "reference f", "g": "reference g"}
        raise AssertionError("a failing check inside the block")
    assert namespace == {"f": "student's f"}


def test_reference_cached_keeps_the_layer_interface():
    from cs231n_lib import reference

    forward, backward = reference.cached(reference.affine_forward, reference.affine_backward)
    x, w, b = np.ones((2, 3)), np.full((3, 4), 0.5), np.arange(4.0)
    out, cache = forward(x, w, b)
    check_close(out, x @ w + b, "out")
    dx, dw, db = backward(np.ones((2, 4)), cache)
    check_close(dx, np.full((2, 3), 2.0), "dx")
    check_close(db, [2.0, 2.0, 2.0, 2.0], "db")
