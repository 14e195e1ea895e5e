"""Run a burst inside one rate-limit window, so exact counts hold at any time of day."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def within_one_window(seconds: int, burst: Callable[[], T], attempts: int = 3) -> T:
    """``burst()``'s result, from a run that began and ended in the same fixed window.

    Windows are aligned to the epoch; a burst that crosses a boundary is run
    again (each run must use fresh counters: a new client id, prefix or server).
    """
    for _ in range(attempts):
        start = int(time.time() // seconds)
        result = burst()
        if int(time.time() // seconds) == start:
            return result
    raise AssertionError(f"no burst fit in one {seconds} s window in {attempts} attempts")
