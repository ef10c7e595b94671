"""Root conftest: hands collection and the shared fixtures to the kata's pytest plugin.

See savedmodel_kata/plugin/ for how `pytest exercises/` and `pytest
solutions/` run the one suite in tests/ against either folder.
"""

pytest_plugins = ["savedmodel_kata.plugin"]
