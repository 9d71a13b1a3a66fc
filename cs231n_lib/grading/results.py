"""What grading produces, as plain data: the result classes every grading module shares.

A leaf module (it imports nothing of the package): a worker process or a Dask worker on
another machine sends these back pickled, and the self-check uses them without the
instructor's pipeline.

- `SelfCheckCell`, `SelfCheckReport`: a student's self-check (`cs231n check`);
- `CellScore`, `GradeReport`: scores as the gradebook holds them;
- `CellResult`, `SubmissionResult`: what a worker returns for one submission;
- `CellOutcome`, `SubmissionReport`: one submission once merged, for the command's summary;
- `ClassReport`: a whole class graded by `cs231n grade`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SelfCheckCell:
    """The outcome of one graded cell in a student's self-check."""

    grade_id: str
    points: float
    max_points: float
    status: str  # "passed", "failed", "missing" (deleted), "manual", "unanswered"
    message: str = ""  # the failure: error name and message, a few lines (not the traceback)
    cause: str = ""  # the other cell the failure comes from, when it is known
    manual: bool = False  # graded by hand (an inline answer): not in the autograded total


@dataclass
class SelfCheckReport:
    """All graded cells of a self-checked notebook, plus warnings about it, and the
    first solution cell that raised with the test cells that failed because of it."""

    cells: list[SelfCheckCell]
    warnings: list[str]
    broken: str = ""  # grade_id of the first solution cell that raised, "" if none did
    broken_error: str = ""  # its error, one line
    broken_dependents: list[str] = field(default_factory=list)  # tests its NameErrors failed

    @property
    def failed(self) -> list[SelfCheckCell]:
        """Cells that lose points: failed tests and deleted cells."""
        return [c for c in self.cells if c.status in ("failed", "missing")]

    @property
    def unanswered(self) -> list[SelfCheckCell]:
        return [c for c in self.cells if c.status == "unanswered"]

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells if not c.manual)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells if not c.manual)


@dataclass
class CellScore:
    """The score of one graded cell of one submitted notebook."""

    notebook: str  # notebook name without .ipynb
    grade_id: str
    score: float | None  # None: not graded yet (manually graded cells)
    max_score: float
    manual: bool = False


@dataclass
class GradeReport:
    """What autograding one student's submission produced."""

    student: str
    success: bool
    cells: list[CellScore] = field(default_factory=list)
    error: str = ""

    @property
    def score(self) -> float:
        return sum(c.score or 0.0 for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)

    @property
    def pending_score(self) -> float:
        """Points of the cells no score is given for yet: they await grading by hand."""
        return sum(c.max_score for c in self.cells if c.score is None)


@dataclass
class CellResult:
    """One graded cell as the autograder left it in a worker's scratch gradebook."""

    notebook: str  # without .ipynb, as nbgrader names notebooks
    grade_id: str
    max_score: float
    auto_score: float | None
    needs_manual_grade: bool
    status: str  # "passed", "partial", "failed", "not run", "manual"
    message: str = ""
    manual_score: float | None = None

    @property
    def score(self) -> float | None:
        return self.manual_score if self.manual_score is not None else self.auto_score


@dataclass
class SubmissionResult:
    """What grading one submission produced; `success` False only when the grader
    itself failed (never because of what the student's code did)."""

    assignment: str
    student: str
    success: bool
    error: str = ""
    cells: list[CellResult] = field(default_factory=list)
    comments: dict[str, str | None] = field(default_factory=dict)  # "nb/grade_id" -> auto
    late_penalties: dict[str, float | None] = field(default_factory=dict)  # notebook ->
    timestamp: str | None = None  # ISO time the submission was made, if known
    notes: list[str] = field(default_factory=list)
    autograded: dict[str, bytes] = field(default_factory=dict)  # files of autograded/S/A
    feedback: dict[str, bytes] = field(default_factory=dict)  # files of feedback/S/A
    sandboxed: bool = False
    sandbox_reason: str = ""
    seconds: float = 0.0
    host: str = ""


@dataclass
class CellOutcome(CellScore):
    """A graded cell's score with the autograder's verdict on it."""

    status: str = ""  # "passed", "partial", "failed", "not run", "manual"
    message: str = ""  # why it failed or did not run


@dataclass
class SubmissionReport(GradeReport):
    """What grading one submission did, for the command's summary."""

    notes: list[str] = field(default_factory=list)
    sandboxed: bool = False
    sandbox_reason: str = ""
    seconds: float = 0.0

    @property
    def failed_cells(self) -> list[CellOutcome]:
        return [c for c in self.cells if c.status in {"failed", "not run", "partial"}]


@dataclass
class ClassReport:
    """What `grade_class` did: one report per submission, plus intake problems."""

    assignment: str
    reports: list[SubmissionReport]
    problems: list[str] = field(default_factory=list)
    sandbox_warning: str = ""  # non-empty when some submission ran unsandboxed
    seconds: float = 0.0
    hardest: list[dict] = field(default_factory=list)  # most failed tests first

    @property
    def failed(self) -> list[SubmissionReport]:
        return [r for r in self.reports if not r.success]
