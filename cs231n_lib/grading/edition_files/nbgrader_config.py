"""nbgrader configuration of the student edition: this folder is the course directory.

nbgrader's Validate button (a notebook's toolbar) reads it. Grading happens at the
instructor's, with the hidden tests; nothing here grades.
"""

import os

from cs231n_lib.grading.limits import DEFAULT_LIMITS

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "cs231n"
c.CourseDirectory.release_directory = "assignments"
# The autograder's per-cell timeout, so Validate stops where grading would.
c.Execute.timeout = DEFAULT_LIMITS.cell_timeout
c.Execute.interrupt_on_timeout = True
