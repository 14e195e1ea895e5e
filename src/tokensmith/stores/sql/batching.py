"""Batcher: concurrent calls of one kind share one database round trip.

Through aiosqlite every statement costs several thread hand-offs (cursor,
execute, fetch, close, commit or rollback), each a wake-up of the event loop;
on SQLite the process's write transactions also take turns. Run one per
request and the hand-offs, not the database, set how many requests a process
answers. Under load many requests want the same thing at the same moment:
insert a token, look one up, consume one. Here the first call to arrive starts
a round trip for itself (after settling, below, where the batcher settles);
calls arriving while it runs wait for the next one, which serves them all at
once.

Each caller still gets its own result or error, and only after its round trip
has finished: an insert is committed before its caller goes on, and a lookup
starts after its caller asked, so it sees every write that was committed
before (never a result from a round trip that began earlier).

A round trip decides which calls it serves when it calls ``Batch.take()``,
not when it is started. On SQLite the work runs on a thread, which under load
waits about a millisecond for the interpreter lock before it can run (the
event loop holds it until its current callback ends); calls that arrive in
that time join the batch when ``take()`` runs there, instead of waiting for
the next round trip (measured: that wait was 0.8-1 ms of a 2.1 ms batch).

A round trip on a thread can wait for the lock, but waiting costs: the event
loop lets go of the lock once per turn, each time the waiting thread is woken
only to find it taken again (measured under cc_opaque load: 6,400 such
wake-ups a second, the loop's kernel time 13% of a core, the writer thread's
a fifth of its own). So a batcher made with ``settle_turns`` hands a round
trip to its thread only once calls have stopped coming: it lets the loop run
a turn at a time while each turn brings a new call, at most that many turns
(``SETTLE_TURNS``), then starts. A call arriving when the loop is otherwise
quiet waits one turn. Measured, one worker: cc_opaque 7,600-7,800 -> 8,400-8,500
req/s, the writer's context switches 6,400 -> 800 a second; two workers
11,800-12,100 -> 13,100-13,200.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tokensmith._per_loop import PerLoop

__all__ = ["MAX_BATCH", "SETTLE_TURNS", "Batch", "Batcher"]

MAX_BATCH = 256
"""Calls per round trip at most; more waiting calls go in the next one."""

SETTLE_TURNS = 16
"""Event-loop turns a settling batcher waits at most while calls keep coming."""

Item = TypeVar("Item")
Result = TypeVar("Result")


Waiting = deque[tuple[Item, "asyncio.Future[Result]"]]


@dataclass(slots=True)
class _Queue(Generic[Item, Result]):
    """One event loop's waiting calls, and the task serving them (if one runs)."""

    waiting: Waiting[Item, Result] = field(default_factory=deque)
    runner: asyncio.Task[None] | None = None


class Batch(Generic[Item, Result]):
    """The calls one round trip serves, fixed by ``take()``.

    ``take()`` may run on another thread: the event loop only appends to the
    waiting calls and the taker only pops from their front, each atomic. A
    round trip cancelled while its thread has yet to take is ``close()``d
    first, so that thread takes nothing: whatever it took, nobody would answer.
    """

    __slots__ = ("_lock", "_taken", "_waiting", "closed")

    def __init__(self, waiting: Waiting[Item, Result]) -> None:
        self._waiting = waiting
        self._taken: list[tuple[Item, asyncio.Future[Result]]] = []
        self._lock = threading.Lock()
        self.closed = False

    def take(self) -> list[Item]:
        """The items of this round trip: those waiting now (up to MAX_BATCH); once only."""
        with self._lock:
            if not self.closed:
                self.closed = True
                while len(self._taken) < MAX_BATCH:
                    try:
                        self._taken.append(self._waiting.popleft())
                    except IndexError:
                        break
        return self.items

    def close(self) -> None:
        """Take nothing more; what was taken stays taken."""
        with self._lock:
            self.closed = True

    @property
    def items(self) -> list[Item]:
        return [item for item, _ in self._taken]

    @property
    def calls(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        return self._taken


Flush = Callable[[Batch[Item, Result]], Awaitable[Sequence["Result | BaseException"]]]


class Batcher(Generic[Item, Result]):
    """Serves ``submit(item)`` calls in batches through ``flush(batch)``.

    ``flush`` calls ``batch.take()`` once it is about to use the items, and
    returns one outcome per item taken, in order. If it raises, every call of
    the batch raises that error (the database is down or busy), and so do the
    calls waiting if it raised before it took any.
    """

    def __init__(self, flush: Flush[Item, Result], *, name: str, settle_turns: int = 0) -> None:
        """``settle_turns``: for a flush that runs on a thread, how many turns of the
        event loop a round trip may wait for calls to stop coming before it starts
        (``SETTLE_TURNS``; 0 starts it at once)."""
        self._flush = flush
        self._name = name
        self._settle_turns = settle_turns
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
                if self._settle_turns:
                    await self._settle(queue.waiting)
                await self._serve(Batch(queue.waiting))
        except asyncio.CancelledError:  # the loop is shutting down: nobody waits for more
            # Popped, not iterated: a round trip's thread may still be taking from it.
            while True:
                try:
                    _, done = queue.waiting.popleft()
                except IndexError:
                    break
                done.cancel()
            raise
        finally:
            queue.runner = None

    async def _settle(self, waiting: Waiting[Item, Result]) -> None:
        """Let the loop run while each turn brings another call (see the module's docstring)."""
        seen = len(waiting)
        for _ in range(self._settle_turns):
            await asyncio.sleep(0)
            arrived = len(waiting)
            if arrived == seen or arrived >= MAX_BATCH:
                return
            seen = arrived

    async def _serve(self, batch: Batch[Item, Result]) -> None:
        try:
            outcomes = await self._flush(batch)
        except asyncio.CancelledError:
            batch.close()  # its thread may still be running: it must not take calls now
            for _, done in batch.calls:
                done.cancel()
            raise
        except Exception as exc:
            batch.take()  # failed before it took them: the waiting calls get the error
            outcomes = [exc] * len(batch.calls)
        if not batch.closed:  # a flush with a bug: fail its calls rather than loop on them
            batch.take()
            outcomes = [RuntimeError(f"{self._name}: the round trip took no calls")] * len(
                batch.calls
            )
        for (_, done), outcome in zip(batch.calls, outcomes, strict=True):
            if done.done():  # the caller was cancelled (the client went away)
                continue
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
