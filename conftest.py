"""Root pytest configuration: fast mode for every test and every executed notebook."""

import os

import pytest

# Set before any kernel starts, so notebooks executed by nbval or nbgrader inherit it.
os.environ.setdefault("CS231N_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(items):
    # nbval runs a notebook's cells in order in one kernel: keep each notebook on one
    # xdist worker (--dist loadgroup) while other tests spread over all workers.
    for item in items:
        if item.nodeid.split("::")[0].endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
