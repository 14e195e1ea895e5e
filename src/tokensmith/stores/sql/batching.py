"""Batcher: concurrent calls of one kind share one database round trip.

Through aiosqlite every statement costs several thread hand-offs (cursor,
execute, fetch, close, commit or rollback), each a wake-up of the event loop;
on SQLite the process's write transactions also take turns. Run one per
request and the hand-offs, not the database, set how many requests a process
answers. Under load many requests want the same thing at the same moment:
insert a token, look one up, consume one. Here the first call to arrive starts
a round trip for itself; calls arriving while it runs wait for the next one,
which serves them all at once.

Each caller still gets its own result or error, and only after its round trip
has finished: an insert is committed before its caller goes on, and a lookup
starts after its caller asked, so it sees every write that was committed
before (never a result from a round trip that began earlier).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tokensmith.stores.sql._per_loop import PerLoop

__all__ = ["MAX_BATCH", "Batcher"]

MAX_BATCH = 256
"""Calls per round trip at most; more waiting calls go in the next one."""

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(slots=True)
class _Queue(Generic[Item, Result]):
    """One event loop's waiting calls, and the task serving them (if one runs)."""

    waiting: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None


Flush = Callable[[Sequence[Item]], Awaitable[Sequence["Result | BaseException"]]]


class Batcher(Generic[Item, Result]):
    """Serves ``submit(item)`` calls in batches through ``flush(items)``.

    ``flush`` returns one outcome per item, in order. If it raises, every call
    of the batch raises that error (the database is down or busy).
    """

    def __init__(self, flush: Flush[Item, Result], *, name: str) -> None:
        self._flush = flush
        self._name = name
        self._queues: PerLoop[_Queue[Item, Result]] = PerLoop(_Queue)  # futures belong to a loop

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        queue = self._queues.get()
        done: asyncio.Future[Result] = loop.create_future()
        queue.waiting.append((item, done))
        if queue.runner is None:
            queue.runner = loop.create_task(self._run(queue), name=self._name)
        return await done

    async def _run(self, queue: _Queue[Item, Result]) -> None:
        try:
            while queue.waiting:
                batch, queue.waiting = queue.waiting[:MAX_BATCH], queue.waiting[MAX_BATCH:]
                await self._serve(batch)
        except asyncio.CancelledError:  # the loop is shutting down: nobody waits for more
            for _, done in queue.waiting:
                done.cancel()
            queue.waiting.clear()
            raise
        finally:
            queue.runner = None

    async def _serve(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, done in batch:
                done.cancel()
            raise
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if done.done():  # the caller was cancelled (the client went away)
                continue
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
