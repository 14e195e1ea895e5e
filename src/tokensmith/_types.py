"""Type aliases shared across the package, so signatures say what travels."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")

Claims: TypeAlias = dict[str, Any]
"""A JWT claim set or any JSON object of claims."""

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as Python sees it after decoding."""

FormData: TypeAlias = dict[str, str]
"""A form body after duplicate checks: one value per field name."""

MaybeAwaitable: TypeAlias = T | Awaitable[T]
"""What a user hook may return: a value, or an awaitable of one."""

__all__ = ["Claims", "FormData", "JSONObject", "MaybeAwaitable"]
