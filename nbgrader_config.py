"""nbgrader configuration: the repository root is the course directory."""

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.CourseDirectory.course_id = "cs231n"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# A cell gets 120 s, enough for the slowest fast-mode cell many times over, and an
# infinite loop in a student's cell still ends.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Release notebooks carry no outputs.
c.ClearOutput.enabled = True
# Quiet kernels: ipykernel's start-up warnings are noise in an instructor's terminal.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
