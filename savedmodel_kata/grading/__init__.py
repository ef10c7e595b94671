"""Grading: deterministic points per function, from a pristine harness, for every platform.

workspace.py    the pristine harness (from --pristine or git objects) + the student's files
worker.py       the worker protocol: tasks in, every test's events out through a pipe
grader.py       the one engine: workers, crash attribution, limits; a submission's
                `GradingResults` (a single submission is a class of one)
batch.py        a class: every student a target of one workspace, resumable
reports.py      a `GradingResults` rendered: summary, report.json, Gradescope, JUnit,
                the Actions log, the gradebook
store.py        the Actions steps' graded exercise, kept between steps
command.py      `kata grade`
actions.py      the per-function checks' GitHub Actions workflow, from the catalogue
gradescope.py   Gradescope's autograder zip
"""
