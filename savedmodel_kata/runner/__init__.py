"""The `kata` command: students' runner, and the entry to grading and maintainers' tools.

One module a command (status, watch, hint, reset, solution, train/load);
`cli.py` only parses arguments and dispatches. Commands that run tests do so
in this process (`plugin/in_process.py`), so TensorFlow is imported once.
"""
