"""PerLoop: one value per running event loop.

Locks, futures and tasks belong to the loop that made them, and one engine or
store outlives several loops in tests and CLI commands (each ``asyncio.run``
is a new loop). A loop that is gone takes its value with it; so does a loop
that was closed while its value still held futures of its own (which keep the
loop alive), when the next loop takes its first value.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """The last loop asked for is remembered by a weak reference: a ``WeakKeyDictionary``
    lookup makes a new weak reference each time, and the signing turns ask on every
    token (a server runs one loop)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[weakref.ref[asyncio.AbstractEventLoop], T] | None = None

    def get(self) -> T:
        """This loop's value, made on first use."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0]() is loop:
            return last[1]
        value = self._values.get(loop)
        if value is None:
            for closed in [known for known in self._values if known.is_closed()]:
                del self._values[closed]
            value = self._values[loop] = self._factory()
        self._last = (weakref.ref(loop, self._forget_last), value)
        return value

    def _forget_last(self, gone: weakref.ref[asyncio.AbstractEventLoop]) -> None:
        """A loop that is gone takes its value with it from ``_last`` too."""
        last = self._last
        if last is not None and last[0] is gone:
            self._last = None
