"""Grading a whole class: one gradebook, the same points as grading each alone, crashes contained,
an interrupted run resumed."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from savedmodel_kata import catalogue
from savedmodel_kata.grading import batch
from savedmodel_kata.grading.grader import grade

ROOT = Path(__file__).resolve().parents[2]
EX1 = catalogue.by_number(1)
CRASH = (
    '    hidden = _conv_block("conv1", x, size=3, filters=8)',
    "    import os\n    os._exit(3)",
)


STUB = (ROOT / "exercises" / EX1.file_name).read_text()
FORGE = """
import dataclasses

import savedmodel_kata.plugin.recorder as recorder

real = recorder.result_of
recorder.result_of = lambda test, report: dataclasses.replace(
    real(test, report), passed=True, failure=None, message=""
)
"""


def solution(exercise) -> str:
    return (ROOT / "solutions" / exercise.file_name).read_text()


def test_a_class_is_graded_like_each_student_alone_and_a_crash_costs_only_its_student(tmp_path):
    folder = tmp_path / "class"
    percent = solution(EX1).replace("    return float(value)", "    return 100 * float(value)")
    uploads = {
        "alice": {"exercises/" + EX1.file_name: solution(EX1)},
        "bob": {"bob-kata-main/exercises/" + EX1.file_name: percent},
        "crasher": {EX1.file_name: solution(EX1).replace(*CRASH)},
        "nobody": {"notes.txt": "I did not do it"},
        # Student code runs in the process that reports its tests: this one makes every test
        # of its process pass. Graded in a process of its own, it cannot lift anyone else.
        "forger": {EX1.file_name: STUB + FORGE},
        "honest": {EX1.file_name: STUB},
    }  # fmt: skip
    for student, files in uploads.items():
        for relative, text in files.items():
            (folder / student / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / student / relative).write_text(text)
    out = tmp_path / "out"
    gradings = batch.grade_class(folder, out, pristine=ROOT, workers=2, exercises=[EX1])
    with (out / "gradebook.csv").open() as handle:
        book = {row["student"]: row for row in csv.DictReader(handle)}
    assert float(book["alice"]["total"]) == EX1.points
    assert float(book["bob"]["total"]) == EX1.points - 2  # evaluate and the end-to-end test
    assert float(book["crasher"]["total"]) == 0 and float(book["nobody"]["total"]) == 0
    assert float(book["honest"]["total"]) == 0, "another student's code changed this grade"
    crasher = json.loads((out / "crasher" / "report.json").read_text())
    assert any(
        "the test process ended abruptly (exit code 3) in test_create_model" in problem
        for problem in crasher["problems"]
    )
    assert gradings["crasher"].scores.earned == 0

    alone = grade(folder / "bob", pristine=ROOT, exercises=[EX1])
    in_class = json.loads((out / "bob" / "report.json").read_text())
    assert [(f.function, f.earned) for f in alone.scores.functions] == [
        (f["function"], f["score"]) for f in in_class["functions"]
    ]

    # Run again: nothing changed, nothing is graded again (the reports stay as they are).
    before = {name: (out / name / "report.json").stat().st_mtime_ns for name in gradings}
    book = (out / "gradebook.csv").read_bytes()
    batch.grade_class(folder, out, pristine=ROOT, workers=1, exercises=[EX1])
    assert before == {name: (out / name / "report.json").stat().st_mtime_ns for name in gradings}
    assert (out / "gradebook.csv").read_bytes() == book  # rendered again from the reports


SEND_THEN_DIE = """
import os, sys
from savedmodel_kata.grading.worker import EventPipe
events = EventPipe(int(sys.argv[1]))
for number in range(200):
    events.put(event="started", nodeid=f"test_{number}", padding="x" * 5000)
os._exit(3)  # as a student's code may: no clean-up at all
"""


def test_every_event_a_worker_sent_before_dying_arrives():
    # The grader blames the target whose test was last "started" when a worker dies: that
    # event must arrive even when the worker's very next act is os._exit (and events longer
    # than a pipe's atomic write arrive whole).
    reader, writer = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", SEND_THEN_DIE, str(writer)], pass_fds=(writer,)
    )
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        received = [json.loads(line) for line in pipe.read().splitlines()]
    assert process.wait(timeout=60) == 3
    assert [event["nodeid"] for event in received] == [f"test_{n}" for n in range(200)]
