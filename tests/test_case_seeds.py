"""No randomized test case is flaky: every graded test cell of every solution notebook passes
under ten seeds of `cs231n_lib.checks.case_seed` (CS231N_TEST_SEED), not only the one the
grader uses.

Each notebook runs once, top to bottom, in fast mode; right after each graded cell runs as
usual, it runs again under each seed, then the notebook goes on with the default seed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cs231n_lib.grading.limits import KERNEL_STARTUP_SECONDS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))
SEEDS = range(10)


def _set_seed(seed: int | None) -> nbformat.NotebookNode:
    if seed is None:
        source = "import os as _os\n_os.environ.pop('CS231N_TEST_SEED', None)"
    else:
        source = f"import os as _os\n_os.environ['CS231N_TEST_SEED'] = '{seed}'"
    return nbformat.v4.new_code_cell(source)


def run_under_seeds(path: Path, seeds=SEEDS, timeout: int = 600) -> list[str]:
    """Execute `path`, each graded cell also under every seed; return the failures found.

    A failure of an ordinary (ungraded) cell or of a graded cell under the default seed
    stops the run (the notebook itself is broken); a failure under another seed is recorded
    with the seed and the error, and the run goes on.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=KERNEL_STARTUP_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    failures = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade") or meta.get("solution"):
                continue
            for seed in seeds:
                client.execute_cell(_set_seed(seed), index)
                probe = nbformat.v4.new_code_cell(cell.source)
                try:
                    client.execute_cell(probe, index)
                except CellExecutionError as error:
                    last = str(error).strip().splitlines()[-1:]
                    failures.append(f"{meta['grade_id']} with CS231N_TEST_SEED={seed}: {last}")
            client.execute_cell(_set_seed(None), index)
    return failures


def test_the_check_catches_a_lucky_case(tmp_path):
    # A test cell that passes under the grader's seed and fails under others.
    cells = [
        nbformat.v4.new_code_cell("from cs231n_lib.checks import case_rng, case_seed"),
        nbformat.v4.new_code_cell(
            "assert case_seed() % 3 != 1, 'an unlucky seed'",
            metadata={
                "nbgrader": {
                    "grade": True,
                    "grade_id": "test_lucky",
                    "points": 1,
                    "locked": True,
                    "solution": False,
                    "schema_version": 3,
                }
            },
        ),
        nbformat.v4.new_code_cell("import os\nassert 'CS231N_TEST_SEED' not in os.environ"),
    ]
    path = tmp_path / "lucky.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    failures = run_under_seeds(path)
    assert [f.split(":")[0] for f in failures] == [
        f"test_lucky with CS231N_TEST_SEED={seed}" for seed in SEEDS if seed % 3 == 1
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_graded_cells_pass_under_ten_seeds(path):
    failures = run_under_seeds(path)
    assert not failures, (
        f"{path.relative_to(REPO)}: randomized test cases fail correct code under some seeds "
        f"(draw cases from case_rng/case_seed and make them robust):\n" + "\n".join(failures)
    )
