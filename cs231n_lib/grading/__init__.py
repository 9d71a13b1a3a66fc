"""Grading: helpers for test cells (`checks`) and the nbgrader pipeline behind the CLI."""

from cs231n_lib.grading.checks import (
    assert_no_loops,
    assert_own_implementation,
    check_close,
    check_equal,
    check_shape,
)

__all__ = [
    "assert_no_loops",
    "assert_own_implementation",
    "check_close",
    "check_equal",
    "check_shape",
]
