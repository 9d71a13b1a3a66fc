"""nbgrader configuration: the repository root is the course directory."""

from cs231n_lib.grading.feedback import LocalMathJax, feedback_preprocessors, offline_config
from cs231n_lib.grading.guard import RefuseAutograde
from cs231n_lib.grading.limits import DEFAULT_LIMITS
from cs231n_lib.grading.sanitize import exporter_config

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

# Autograding is `cs231n grade` only: it runs the student's code in the sandbox and the
# tests in a separate trusted process. nbgrader's own autograde (the command, the
# formgrader's Autograde button) would run both in the student's kernel, so it refuses,
# with a message naming `cs231n grade`, before it writes anything (grading/guard.py).
c.Autograde.exporter_class = RefuseAutograde

# Feedback made here (`nbgrader generate_feedback`, the formgrader's Generate Feedback) is
# made as `cs231n grade` makes it: nbgrader's GetGrades and CSS, the course's summary, and
# student outputs and markdown sanitized. Every HTML page of a notebook (feedback, the
# formgrader's view of a submission) sanitizes it first and renders no JavaScript,
# widget or unsanitized HTML output (grading/sanitize.py).
c.GenerateFeedback.preprocessors = [*feedback_preprocessors(), LocalMathJax]
c.merge(exporter_config())
# Offline: feedback pages load MathJax from feedback/.mathjax (copied there when feedback is made
# by nbgrader here: `LocalMathJax` above), the formgrader from the Jupyter server
# (jupyter-server-mathjax), never from a CDN.
c.merge(offline_config())
