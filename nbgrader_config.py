"""nbgrader configuration: the repository root is the course directory."""

from cs231n_lib.grading.limits import DEFAULT_LIMITS

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.CourseDirectory.course_id = "cs231n"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# Every grading limit is defined once, in cs231n_lib/grading/limits.py; nbgrader's own
# commands (autograde, formgrader) get its per-cell timeout here, and `cs231n grade` reads
# it back from here, so a number written instead changes it for both.
c.Execute.timeout = DEFAULT_LIMITS.cell_timeout
c.Execute.interrupt_on_timeout = True

# Release notebooks carry no outputs.
c.ClearOutput.enabled = True
# Quiet kernels: ipykernel's start-up warnings are noise in an instructor's terminal.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
