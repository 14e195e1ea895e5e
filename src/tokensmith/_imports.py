"""Resolve ``module:attribute`` import strings from the config file."""

from __future__ import annotations

import importlib
from typing import Any

from tokensmith.settings import ConfigError


def import_string(value: str, *, key: str) -> Any:
    """The object ``value`` names; ConfigError naming ``key`` when it cannot be loaded."""
    module_name, _, attribute = value.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{key}: cannot import module {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{key}: {module_name!r} has no attribute {attribute!r}") from None
    return target
