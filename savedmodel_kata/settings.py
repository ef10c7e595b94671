"""The kata's settings, resolved once: command-line option, else environment, else default.

Every `KATA_*` variable is read here and nowhere else. The runner and the
pytest plugin resolve a `Settings` at start-up from their options and call
`use()`; the rest of the harness asks `current()`. Worker processes (the
grader's) receive settings through the environment, which `current()` reads
when nobody resolved them in this process.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGETS = ("exercises", "solutions")
HYPOTHESIS_PROFILES = ("kata-dev", "kata-grading", "kata-watch")


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _flag(text: str) -> bool:
    return text.strip().lower() not in ("", "0", "false", "no")


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"choose one of {', '.join(choices)}")
        return text

    return parse


def _default_cache_dir() -> Path:
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"savedmodel-kata-cache-{user}"


@dataclass(frozen=True)
class Setting:
    name: str
    variable: str
    parse: Callable[[str], object]  # str -> value, raising ValueError with the reason
    help: str


SETTINGS = (
    Setting("root", "KATA_ROOT", _path, "the kata repository, when running from outside it"),
    Setting("target", "KATA_TARGET", _choice(TARGETS), "what the tests in tests/ check"),
    Setting(
        "hypothesis_profile",
        "KATA_HYPOTHESIS_PROFILE",
        _choice(HYPOTHESIS_PROFILES),
        "kata-dev explores, kata-grading is derandomized, kata-watch runs one example",
    ),
    Setting("call_timeout", "KATA_CALL_TIMEOUT", _seconds, "seconds a student function may run"),
    Setting("cache_dir", "KATA_CACHE_DIR", _path, "where trained models are cached"),
    Setting("no_cache", "KATA_NO_CACHE", _flag, "1 turns the cache of trained models off"),
    Setting("mnist_source", "KATA_MNIST_SOURCE", str, "bundled, keras or idx"),
    Setting("mnist_dir", "KATA_MNIST_DIR", _path, "a folder of MNIST IDX files"),
    Setting("verbose", "KATA_VERBOSE", _flag, "1 shows TensorFlow's log lines and full reports"),
    Setting("hidden_tests", "KATA_HIDDEN_TESTS", _path, "a folder of instructors' hidden tests"),
)


@dataclass(frozen=True)
class Settings:
    root: Path | None = None
    target: str = "exercises"
    hypothesis_profile: str = "kata-dev"
    call_timeout: float = 30.0
    cache_dir: Path = field(default_factory=_default_cache_dir)
    no_cache: bool = False
    mnist_source: str | None = None
    mnist_dir: Path | None = None
    verbose: bool = False
    hidden_tests: Path | None = None

    @classmethod
    def resolve(
        cls, options: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Each setting from `options` if given there (not None), else its variable, else the
        default."""
        from savedmodel_kata.errors import KataError

        options = options or {}
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if options.get(setting.name) is not None:
                values[setting.name] = options[setting.name]
            elif environ.get(setting.variable, "") != "":
                text = environ[setting.variable]
                try:
                    values[setting.name] = setting.parse(text)
                except ValueError as error:
                    raise KataError(
                        f"${setting.variable}={text!r}: {error} ({setting.help})"
                    ) from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def environment(self) -> dict[str, str]:
        """These settings as variables, for a worker process to resolve the same values."""
        variables = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            variables[setting.variable] = str(value)
        return variables


_current: Settings | None = None


def use(settings: Settings) -> Settings:
    """Make `settings` this process's settings (the runner and the plugin do, once a run)."""
    global _current
    _current = settings
    return settings


def current() -> Settings:
    """This process's settings; resolved from the environment if nobody chose them."""
    global _current
    if _current is None:
        _current = Settings.resolve()
    return _current
