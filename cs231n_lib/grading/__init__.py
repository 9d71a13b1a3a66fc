"""The instructor's grading pipeline behind the CLI (release, check, grade).

Nothing student-facing imports this package; test cells use `cs231n_lib.checks`.
"""
