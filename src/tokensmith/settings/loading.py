"""Reading the config file, and saying what is wrong with it in one line per problem."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from tokensmith.settings._common import ConfigError, _config_file


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as file:
            tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


@contextmanager
def _reading(path: Path | None) -> Iterator[None]:
    token = _config_file.set(path)
    try:
        yield
    finally:
        _config_file.reset(token)


def describe_validation_error(exc: ValidationError, source: Path | None) -> str:
    """One line per problem: ``key.path: message``."""
    where = f"{source}: " if source else ""
    lines = []
    for problem in exc.errors(include_url=False):
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        ).lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}{key or '(top level)'}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
