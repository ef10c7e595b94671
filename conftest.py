"""Root conftest: hands test collection and fixtures to the kata's pytest plugin.

See savedmodel_kata/pytest_plugin.py for how `pytest exercises/` and
`pytest solutions/` run the one suite in tests/ against either folder.
"""

pytest_plugins = ["savedmodel_kata.pytest_plugin"]
