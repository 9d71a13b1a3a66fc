"""Root pytest configuration: fast mode for every test and every executed notebook."""

import os
import re

import pytest

# Set before any kernel starts, so notebooks executed by nbval or nbgrader inherit it.
os.environ.setdefault("CS231N_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers share two cores: more BLAS threads per kernel only fight each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_itemcollected(item):
    # nbval runs a notebook's cells in order in one kernel: keep each notebook on one
    # xdist worker (--dist loadgroup) while other tests spread over all workers.
    # Marked here, before xdist reads the marks in pytest_collection_modifyitems.
    path = item.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        # NOTE: xdist reads "." and "/" in a group name as part of the node id.
        item.add_marker(pytest.mark.xdist_group(re.sub(r"\W", "_", path)))


