"""HelperProcess: a worker's side of a child process that answers its requests in order.

A worker serves its requests on one thread, and CPython's interpreter lock lets
another thread run only while the event loop lets go of it, which under load it
hardly does (docs/performance.md). Work that needs no Python objects of the
worker's, only bytes in and bytes out, can run in a child process instead, on
another core: ES256 signatures (``keys/signing_process.py``) and SQLite inserts
and lookups (``stores/sql/sqlite_process.py``). Both children share this protocol:

- the child is ``python -P <its script>``, importing the standard library and
  what its job needs, never the tokensmith package (900 ms and 88 MB);
- it writes ``READY`` once it has started, then reads frames on stdin and
  answers each request frame, in order, with an answer header (``ANSWER``:
  status, the request's sequence number, the body's length) and a body;
- it ends when its stdin does, which is when the worker goes, having answered
  all it read; Ctrl-C and SIGTERM, which reach the whole process group, are the
  worker's to act on.

This class keeps what was sent and not yet answered (``Item``, one per request
frame), matches answers to it by order and checks their sequence numbers, and
watches the child: a child that ends, answers out of order or answers nothing
for ``answer_seconds`` while it holds requests is ended, and what it held goes
to ``take_over``, which does it in the worker (signatures, lookups) or fails it
(writes whose commit is unknown). ``LoopHelper`` keeps one such process per event loop
and starts another a while after one ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, cast

__all__ = ["ANSWER", "READY", "RESTART_SECONDS", "HelperProcess", "LoopHelper"]

ANSWER = struct.Struct(">BII")
"""An answer's header: a status of the child's protocol, the request frame's sequence
number (0, 1, 2, ... modulo 2**32), the body's length. The children spell the same
layout out in their own module, which cannot import this one."""
READY = b"R"
"""What a child writes first, once it has started."""

CLOSE_SECONDS = 5.0
"""How long a closing worker waits for its child to end (a child still importing at
start-up takes a while to see its stdin closed)."""

RESTART_SECONDS = 30.0
"""How long a loop does the work itself after its child ended, before it starts another."""

Item = TypeVar("Item")
Helper = TypeVar("Helper", bound="HelperProcess[Any]")


class HelperProcess(asyncio.SubprocessProtocol, Generic[Item]):
    """One child process; subclasses say what it runs, build frames and read answers."""

    script: ClassVar[str]
    """The child's module file, run as a script."""
    what: ClassVar[str]
    """The child's name in log lines ("the signing process")."""
    max_in_flight: ClassVar[int] = 512
    """Beyond this many unanswered requests the worker does the work itself (``can_take``):
    a child left behind (a busy machine) must not make callers queue behind it."""
    answer_seconds: float = 2.0
    """A child that answers nothing for this long while it holds requests is taken for
    hung (stopped, stuck): it is killed and ``take_over`` gets what it held."""

    def __init__(self, take_over: Callable[[list[Item]], None], logger: logging.Logger) -> None:
        """``take_over``: what to do with requests the child held and will not answer."""
        self._take_over_items = take_over
        self._logger = logger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._in_flight: deque[Item] = deque()
        self._sent = 0  # request frames written; the next one's sequence number
        self._answered = 0  # answers read; the sequence number the next answer must carry
        self._answered_at_check = 0
        self._watchdog: asyncio.TimerHandle | None = None
        self._unread = b""
        self._greeted = False  # READY read
        self._closing = False  # aclose() began: no more work is taken
        self._exited: asyncio.Future[None] | None = None
        self._stdout_closed = False
        self.ended = False
        self.ended_at = 0.0

    unanswered: ClassVar[str] = "%d requests unanswered"
    """The log line's end when the child ended holding requests (%d: how many)."""

    # What a subclass provides.

    def on_answer(self, item: Item, status: int, body: bytes) -> None:
        """The child's answer to ``item``'s request frame."""
        raise NotImplementedError

    # Running the child.

    async def start(self) -> None:
        """Start the child; it takes requests once it has written ``READY``."""
        self._loop = loop = asyncio.get_running_loop()
        self._exited = loop.create_future()
        try:
            await loop.subprocess_exec(lambda: self, *self.command(), stderr=None)
        except Exception as exc:  # whatever it was, the worker does the work itself
            self._logger.warning("could not start %s (%s); working in the worker", self.what, exc)
            self.process_exited()

    def command(self) -> list[str]:
        """The child's command line: this interpreter running ``script``. -P: the script's
        folder does not go first on sys.path, where its neighbours could shadow modules."""
        return [sys.executable, "-P", self.script]

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.get_pid()

    @property
    def taking(self) -> bool:
        """Whether work sent now will be done: the child said READY, and neither ended nor
        is being closed."""
        return self._greeted and not self._closing and not self.ended

    def can_take(self, count: int) -> bool:
        return self.taking and len(self._in_flight) + count <= self.max_in_flight

    @property
    def next_sequence(self) -> int:
        """The sequence number of the next request frame sent."""
        return self._sent

    def write(self, data: bytes) -> bool:
        """Write frames that ask for no answer (before any request that needs them)."""
        assert self._stdin is not None
        try:
            self._stdin.write(data)
        except Exception:  # a pipe gone bad: as if the child had ended
            self._logger.exception("writing to %s failed", self.what)
            self._end()
            return False
        return True

    def send(self, items: list[Item], data: bytes) -> None:
        """Write ``data``, holding a request frame for each of ``items`` in order (their
        sequence numbers from ``next_sequence`` on). If the write fails, the child is taken
        as ended and ``items`` go to ``take_over`` with whatever else it held."""
        if not items:
            return
        self._in_flight.extend(items)
        self._sent += len(items)
        if self.write(data) and self._watchdog is None:
            self._arm_watchdog()

    async def aclose(self) -> None:
        """End the child: close its stdin and give it ``CLOSE_SECONDS`` to go, else kill it;
        then wait (as long again) until it is reaped.

        It takes no more requests meanwhile, and its answers are still read; what it had
        not answered by then goes to ``take_over``.
        """
        self._closing = True
        if self._stdin is not None and self._exited is not None and not self._exited.done():
            self._stdin.close()
            if not await self._ended_within(CLOSE_SECONDS):
                self._kill()
                await self._ended_within(CLOSE_SECONDS)
        self._take_over()
        if self._process is not None:
            self._process.close()

    async def _ended_within(self, seconds: float) -> bool:
        assert self._exited is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), seconds)
        return self._exited.done()

    def _arm_watchdog(self) -> None:
        assert self._loop is not None
        self._answered_at_check = self._answered
        self._watchdog = self._loop.call_later(self.answer_seconds, self._check_progress)

    def _check_progress(self) -> None:
        """Every ``answer_seconds`` while requests are out: has the child answered any?"""
        self._watchdog = None
        if self.ended or not self._in_flight:
            return
        if self._answered == self._answered_at_check:
            self._logger.warning(
                "%s answered nothing for %.0f s; ending it", self.what, self.answer_seconds
            )
            self._end()
            return
        self._arm_watchdog()

    def _end(self) -> None:
        """Kill the child and hand over what it held, without waiting for it to be reaped
        (``process_exited`` comes when it is)."""
        self._kill()
        self._take_over()

    def _kill(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                self._process.kill()

    # asyncio.SubprocessProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's process transport behaves like asyncio's without subclassing it.
        self._process = cast(asyncio.SubprocessTransport, transport)
        self._stdin = cast(asyncio.WriteTransport, self._process.get_pipe_transport(0))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if self.ended:
            return
        data = self._unread + data if self._unread else data
        at = 0
        if not self._greeted:
            if data[:1] != READY:
                self._logger.warning("%s began with %r, not READY; ending it", self.what, data[:20])
                self._end()
                return
            self._greeted, at = True, 1
        in_flight = self._in_flight
        while len(data) - at >= ANSWER.size:
            status, sequence, length = ANSWER.unpack_from(data, at)
            end = at + ANSWER.size + length
            if end > len(data):
                break
            if sequence != self._answered & 0xFFFFFFFF or not in_flight:
                # Answers are matched to callers by order; one out of step could hand a
                # caller another's result, so nothing more is taken from this child.
                self._logger.error("%s answered out of order; ending it", self.what)
                self._end()
                return
            body = data[at + ANSWER.size : end]
            at = end
            self._answered += 1
            self.on_answer(in_flight.popleft(), status, body)
        self._unread = data[at:]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._stdout_closed = True
            if self._exited is not None and self._exited.done():
                self._gone()

    def process_exited(self) -> None:
        """The child is gone and reaped (or never started).

        Its last answers may still wait in the pipe: the event loop can report the exit
        before the pipe's last data. What it held goes to ``take_over`` once they are
        read (``pipe_connection_lost``), unless it was killed for not answering.
        """
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)
        if self._process is None or self._stdout_closed:
            self._gone()

    def _gone(self) -> None:
        if self._process is not None:
            self._process.close()  # its pipes
        self._take_over()

    def _take_over(self) -> None:
        """From now on the worker does the work: what the child held goes to ``take_over``,
        once."""
        if self.ended:
            return
        self.ended = True
        if self._loop is not None:
            self.ended_at = self._loop.time()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        unanswered = list(self._in_flight)
        self._in_flight.clear()
        if unanswered:
            self._logger.warning("%s ended with " + self.unanswered, self.what, len(unanswered))
        self._take_over_items(unanswered)


class LoopHelper(Generic[Helper]):
    """One event loop's helper process, and when the loop may start another after it ended."""

    restart_seconds: ClassVar[float] = RESTART_SECONDS

    def __init__(self, factory: Callable[[], Helper]) -> None:
        self._factory = factory
        self.helper: Helper | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    def current(self, loop: asyncio.AbstractEventLoop) -> Helper | None:
        """The helper to send work to (one that has ended or is starting takes none: see
        ``can_take``); None once closed: the loop does the work itself from then on."""
        if self._closed:
            return None
        helper = self.helper
        if helper is None or (
            helper.ended and loop.time() >= helper.ended_at + self.restart_seconds
        ):
            helper = self.helper = self._factory()
            self._starting = loop.create_task(helper.start())
        return helper

    async def aclose(self) -> None:
        self._closed = True
        helper, starting = self.helper, self._starting
        self.helper = self._starting = None
        if starting is not None:
            await starting
        if helper is not None:
            await helper.aclose()
