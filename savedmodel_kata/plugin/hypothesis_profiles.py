"""The kata's Hypothesis profiles.

None has a deadline: TensorFlow's first call in a graph compiles kernels and
takes far longer than later ones. 'kata-dev' (the default) explores with
random examples, remembered in the kata's cache folder; 'kata-grading' is
derandomized, so the same code always meets the same examples and a grade
never changes between runs; 'kata-watch' runs the explicit examples and one
generated, for feedback within a second or two of a save.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from savedmodel_kata import settings as kata_settings

_COMMON: dict[str, Any] = dict(
    deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow]
)
_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    # Hypothesis keeps its files in ./.hypothesis unless told otherwise; the
    # kata writes only to temporary folders, so they go to its cache folder.
    home = kata_settings.current().cache_dir / "hypothesis"
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(home)
    settings.register_profile(
        "kata-dev", database=DirectoryBasedExampleDatabase(str(home / "examples")), **_COMMON
    )
    quiet: dict[str, Any] = dict(derandomize=True, database=None, print_blob=False)
    settings.register_profile("kata-grading", **quiet, **_COMMON)
    settings.register_profile("kata-watch", **quiet, **dict(_COMMON, max_examples=1))
    _registered = True


def load(profile: str) -> None:
    _register()
    settings.load_profile(profile)


def examples(count: int) -> int:
    """`count` examples, or fewer if the loaded profile asks for fewer (kata-watch does)."""
    return min(count, settings().max_examples)  # settings() is the loaded profile's
