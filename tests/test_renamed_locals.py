"""tests/renamed_locals.py renames what it should and keeps what code computes."""

from __future__ import annotations

import nbformat
from renamed_locals import GENERIC, forbidden_words, rename_locals

SOURCE = '''
import numpy as np

SCALE = 3

def f(x, y=2):
    """Doc."""
    total = 0
    for i in range(x):
        total += i * y
    squares = [k * k for k in range(x)]
    def inner(z):
        local = z + total
        return local
    try:
        out = inner(SCALE) + sum(squares)
    except ValueError as err:
        raise err
    return out + int(np.sum(np.arange(x)))

class Box:
    size = 4

    def area(self, n):
        side = self.size * n
        return side * side
'''


def _notebook(source: str) -> nbformat.NotebookNode:
    meta = {"nbgrader": {"solution": True, "grade": False, "grade_id": "f", "locked": False}}
    test = "assert_own_implementation(f, ['scipy.spatial', '.argsort', 'cdist', 'raise'])"
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(source, metadata=meta),
            nbformat.v4.new_code_cell(test),
        ]
    )


def test_locals_get_forbidden_names_and_the_code_computes_the_same():
    nb = _notebook(SOURCE)
    pool = forbidden_words([nb]) + list(GENERIC)
    assert pool[:4] == ["scipy", "spatial", "argsort", "cdist"]
    renamed, count = rename_locals(nb, pool)
    new = renamed.cells[0].source
    # total, i, squares, k, out in f; local in inner; side in area
    assert count == 7, new
    for old in ("total", "squares", "local", "side", "out"):
        assert old not in new.replace("out +", ""), (old, new)
    assert "cdist" in new and "argsort" in new
    for kept in ("def f(x, y=2)", "SCALE", "err", "self.size", "size = 4", "def inner(z)"):
        assert kept in new, (kept, new)
    before, after = {}, {}
    exec(SOURCE, before)
    exec(new, after)
    assert after["f"](5) == before["f"](5) and after["f"](3, y=7) == before["f"](3, y=7)
    assert after["Box"]().area(3) == before["Box"]().area(3)


def test_cells_that_are_not_solutions_or_not_python_stay_as_they_are():
    nb = _notebook("%timeit f(3)\n")
    renamed, count = rename_locals(nb, GENERIC)
    assert count == 0 and renamed.cells[0].source == "%timeit f(3)\n"
    assert rename_locals(nb, GENERIC)[0].cells[1].source == nb.cells[1].source
