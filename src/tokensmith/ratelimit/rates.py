"""Rates as operators write them: ``"30/minute"``, ``"300/second"``, ``"100/10s"``, ``"off"``.

This module reads only the text; counting lives in ``counters.py``. It imports
nothing from the server, so ``settings.py`` can validate rates with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OFF", "Rate", "parse_rate"]

OFF = "off"
_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


@dataclass(slots=True, frozen=True)
class Rate:
    """At most ``limit`` requests in each window of ``seconds``."""

    limit: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.seconds}s"


def parse_rate(text: str) -> Rate | None:
    """The rate ``text`` names, None for ``"off"``; ValueError when it names neither."""
    if text.strip().lower() == OFF:
        return None
    match = _RATE.match(text.lower())
    unit = _UNIT_SECONDS.get(match.group(3)) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"{text!r} is not a rate like '30/minute', '300/second', '100/10s' or 'off'"
        )
    limit, multiple = int(match.group(1)), int(match.group(2) or 1)
    if limit < 1 or multiple < 1:
        raise ValueError(f"{text!r}: the count and the window must be at least 1")
    return Rate(limit, unit * multiple)
