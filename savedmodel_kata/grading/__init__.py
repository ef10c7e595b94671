"""Grading: deterministic points per function, from a pristine harness, for every platform.

workspace.py    the pristine harness (from --pristine or git objects) + the student's files
worker.py       one exercise's tests in a process of its own, journaled as they run
grader.py       runs the workers, turns journals into one `GradingResults`
reports.py      that one result rendered: summary, report.json, Gradescope, JUnit
command.py      `kata grade`
classroom.py    GitHub Classroom's workflow, made from the catalogue
gradescope.py   Gradescope's autograder zip
"""
