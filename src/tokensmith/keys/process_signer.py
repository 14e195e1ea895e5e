"""ProcessSigner: a worker's side of its signing process (``signing_process.py``).

One per event loop, started by ``SigningTurns`` on the loop's first signature.
Until the child says it is ready, and whenever it cannot take more, the worker
signs as before; a signature the child was asked for and had not answered when
it ended is made in the worker, so no caller waits for a process that is gone.
The private key goes down a pipe to a child of the same user, which holds it
in memory as the worker already does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Callable
from typing import cast

from cryptography.hazmat.primitives import serialization

from tokensmith.keys import signing_process
from tokensmith.keys.compact_signing import private_key_of
from tokensmith.keys.material import SigningKey
from tokensmith.keys.signing_process import (
    ANSWER,
    HEADER_LENGTH,
    KEY,
    READY,
    REQUEST,
    SIGN,
    SIGNED,
)

__all__ = ["InFlight", "ProcessSigner"]

logger = logging.getLogger(__name__)

InFlight = tuple["asyncio.Future[str]", bytes, bytes, SigningKey]
"""A caller's future, the header's JSON, the payload and the key: kept until answered."""

MAX_IN_FLIGHT = 512
"""Beyond this many unanswered signatures the worker signs itself: a child left
behind (a busy machine) must not make callers queue behind it."""

ANSWER_SECONDS = 2.0
"""A child that answers nothing for this long while it has signatures to make is taken
for hung (stopped, stuck): it is killed and what it held is signed in the worker."""

CLOSE_SECONDS = 5.0
"""How long a closing worker waits for its signing process to end (a child still importing
at start-up takes a while to see its stdin closed)."""

# The module run as a script, not imported through the tokensmith package: that would
# import the whole app (900 ms and 88 MB) into a process that needs only cryptography.
# -P: its folder does not go first on sys.path, where its neighbours could shadow modules.
_CHILD = [sys.executable, "-P", signing_process.__file__]


class ProcessSigner(asyncio.SubprocessProtocol):
    def __init__(self, sign_here: Callable[[list[InFlight]], None]) -> None:
        """``sign_here``: signs what the child took and will not answer, if it ends."""
        self._sign_here = sign_here
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        # (kid, alg) -> slot. A kid is the key's RFC 7638 thumbprint, so one kid is one key pair.
        self._slots: dict[tuple[str, str], int] = {}
        self._in_flight: deque[InFlight] = deque()
        self._sent = 0  # SIGN frames written; the next one's sequence number
        self._answered = 0  # answers read; the sequence number the next answer must carry
        self._answered_at_check = 0
        self._watchdog: asyncio.TimerHandle | None = None
        self._unread = b""
        self._ready = False
        self._exited: asyncio.Future[None] | None = None
        self.ended = False
        self.ended_at = 0.0

    async def start(self) -> None:
        """Start the child; it takes signatures once it has written ``READY``."""
        self._loop = loop = asyncio.get_running_loop()
        self._exited = loop.create_future()
        try:
            await loop.subprocess_exec(lambda: self, *_CHILD, stderr=None)
        except Exception as exc:  # whatever it was, the worker signs by itself
            logger.warning("could not start the signing process (%s); signing in the worker", exc)
            self.process_exited()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.get_pid()

    def can_take(self, count: int) -> bool:
        return self._ready and len(self._in_flight) + count <= MAX_IN_FLIGHT

    def send(self, turn: list[InFlight]) -> None:
        """Ask for ``turn``'s signatures in one write; each future is set when its answer comes.

        The headers must name their keys' algs (``compact_signing.check_alg``); a key
        without a private part fails its callers here. If the write fails, the child is
        taken as ended and the turn is signed in the worker.
        """
        assert self._stdin is not None
        frames: list[bytes] = []
        sent: list[InFlight] = []
        sequence = self._sent
        for item in turn:
            _signed, header, payload, key = item
            slot = self._slots.get((key.kid, key.algorithm))
            if slot is None:
                try:
                    body = key.algorithm.encode("ascii") + b" " + _der(key)
                except ValueError as exc:
                    item[0].set_exception(exc)
                    continue
                slot = self._slots[key.kid, key.algorithm] = len(self._slots)
                frames += (REQUEST.pack(KEY, slot, 0, len(body)), body)
            length = HEADER_LENGTH.size + len(header) + len(payload)
            frames.append(REQUEST.pack(SIGN, slot, sequence & 0xFFFFFFFF, length))
            frames += (HEADER_LENGTH.pack(len(header)), header, payload)
            sequence += 1
            sent.append(item)
        if not sent:
            return
        self._in_flight.extend(sent)
        self._sent = sequence
        try:
            self._stdin.write(b"".join(frames))
        except Exception:  # a pipe gone bad: sign here, as if the child had ended
            logger.exception("writing to the signing process failed")
            self._end()
            return
        if self._watchdog is None:
            self._arm_watchdog()

    async def aclose(self) -> None:
        """End the child: close its stdin and give it ``CLOSE_SECONDS`` to go, else kill it;
        then wait (as long again) until it is reaped.

        It takes no more turns meanwhile; what it had not answered by then is signed here.
        """
        self._ready = False
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
        self._watchdog = self._loop.call_later(ANSWER_SECONDS, self._check_progress)

    def _check_progress(self) -> None:
        """Every ``ANSWER_SECONDS`` while signatures are out: has the child answered any?"""
        self._watchdog = None
        if self.ended or not self._in_flight:
            return
        if self._answered == self._answered_at_check:
            logger.warning(
                "the signing process answered nothing for %.0f s; ending it", ANSWER_SECONDS
            )
            self._end()
            return
        self._arm_watchdog()

    def _end(self) -> None:
        """Kill the child and sign what it held here, without waiting for it to be reaped
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
        if not self._ready:
            if data[:1] != READY:
                logger.warning("the signing process began with %r, not READY; ending it", data[:20])
                self._end()
                return
            self._ready, at = True, 1
        in_flight = self._in_flight
        while len(data) - at >= ANSWER.size:
            status, sequence, length = ANSWER.unpack_from(data, at)
            end = at + ANSWER.size + length
            if end > len(data):
                break
            if sequence != self._answered & 0xFFFFFFFF or not in_flight:
                # Answers are matched to callers by order; one out of step could hand a
                # caller another's token, so nothing more is taken from this child.
                logger.error("the signing process answered out of order; ending it")
                self._end()
                return
            body = data[at + ANSWER.size : end]
            at = end
            self._answered += 1
            signed = in_flight.popleft()[0]
            if signed.done():  # cancelled meanwhile
                continue
            if status == SIGNED:
                signed.set_result(body.decode("ascii"))
            else:
                signed.set_exception(RuntimeError(f"signing process: {body.decode()}"))
        self._unread = data[at:]

    def process_exited(self) -> None:
        """The child is gone and reaped (or never started)."""
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)
        if self._process is not None:
            self._process.close()  # its pipes
        self._take_over()

    def _take_over(self) -> None:
        """From now on the worker signs: what the child held is signed here, once."""
        if self.ended:
            return
        self.ended, self._ready = True, False
        if self._loop is not None:
            self.ended_at = self._loop.time()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        unanswered = list(self._in_flight)
        self._in_flight.clear()
        if unanswered:
            logger.warning(
                "the signing process ended with %d signatures unanswered; signing them here",
                len(unanswered),
            )
        self._sign_here(unanswered)


def _der(key: SigningKey) -> bytes:
    return private_key_of(key).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
