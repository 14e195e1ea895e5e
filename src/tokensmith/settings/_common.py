"""What every settings module shares: the error, the section base, import strings."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
)

_IMPORT_STRING = r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"
_config_file: ContextVar[Path | None] = ContextVar("tokensmith_config_file", default=None)
"""The config file being read, for validators that resolve paths relative to it."""


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
