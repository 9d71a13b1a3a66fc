"""Every grading limit has one definition, and every reader sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs231n_lib.cli import build_parser
from cs231n_lib.grading import limits

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "size"),
    [("4G", 4 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29), ("1000", 1000)],
)
def test_parse_size(text, size):
    assert limits.parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1G", "0"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match=repr(text)):
        limits.parse_size(text)


@pytest.mark.parametrize("size", [4 * 2**30, 512 * 2**20, 3 * 2**29, 1000])
def test_format_size_reads_back(size):
    assert limits.parse_size(limits.format_size(size)) == size


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="Limits.cell_timeout=0"):
        limits.Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="Limits.memory='4G'"):
        limits.Limits(memory="4G")


def test_unknown_sandbox_mode():
    with pytest.raises(ValueError, match="sandbox mode 'on' is not one of"):
        limits.check_sandbox_mode("on")


def test_course_config_and_grader_read_the_defaults():
    from cs231n_lib.grading.execute import GuardedExecute
    from cs231n_lib.grading.scale import default_limits

    assert default_limits(REPO) == limits.DEFAULT_LIMITS  # Execute.timeout in nbgrader_config.py
    guarded = GuardedExecute()
    assert guarded.limits == limits.DEFAULT_LIMITS


def test_command_line_defaults_come_from_limits():
    parser = build_parser()
    grade = parser._subparsers._group_actions[0].choices["grade"]
    options = {a.dest: a for a in grade._actions}
    assert options["sandbox"].choices == limits.SANDBOX_MODES
    assert options["sandbox"].default == limits.DEFAULT_SANDBOX_MODE
    assert f"default {limits.DEFAULT_LIMITS.notebook_timeout}" in options["notebook_timeout"].help
    assert limits.format_size(limits.DEFAULT_LIMITS.memory) in options["memory_limit"].help
