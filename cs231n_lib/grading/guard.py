"""nbgrader's own autograde refuses in this course: `cs231n grade` is the one that is safe.

Plain `nbgrader autograde` and the formgrader's Autograde button would run each test cell
in the student's own kernel, outside the sandbox. The course's nbgrader_config.py makes
`RefuseAutograde` the Autograde converter's exporter: nbgrader builds it before it reads
the gradebook or writes a file, so the refusal leaves no student, submission, score or
autograded folder behind. `cs231n grade` builds its own configuration for each scratch
course and gives Autograde nbgrader's exporter back (worker._api).
"""

from __future__ import annotations

from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException

HOW_TO_AUTOGRADE = (
    "autograde with `cs231n grade ASSIGNMENT [--student ID]`: it runs student code in the "
    "sandbox and the tests in a separate trusted process"
)
REFUSAL = f"nbgrader's own autograde is turned off in this course; {HOW_TO_AUTOGRADE}"


class AutogradeRefused(NbGraderException):
    """Raised instead of autograding; nbgrader's command exits 1 on it."""


class RefuseAutograde(NotebookExporter):
    """An exporter that refuses to be built, with the message above in nbgrader's log
    (the terminal, or the formgrader's "Log Output") and as the error."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.log.error(REFUSAL)
        raise AutogradeRefused(REFUSAL)
