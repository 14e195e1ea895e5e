"""uvicorn's httptools protocol: one socket write per response, one keep-alive timer per connection.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``:
two ``send`` system calls and, with TCP_NODELAY, two TCP segments for every
token response, which the client's kernel receives and wakes up for twice.
``CoalescingTransport`` holds what is written during one turn of the event
loop and hands it to the socket in one write at the end of that turn, so a
response written in one go (every tokensmith response) leaves in one piece.
Nothing else about the protocol changes: uvicorn still parses, validates
headers and handles keep-alive, flow control and shutdown.

uvicorn also arms a keep-alive timer (``loop.call_later``) after every
response and cancels it when the next request arrives: with uvloop, a libuv
timer made and stopped per request, 1.7 µs each in a loop of its own.
``HttpProtocol`` keeps one timer per connection instead: a response notes
when the connection went idle, and the timer, when it fires, closes the
connection if it has been idle for the whole timeout, else sets itself for
the rest of it (or, with a request in progress, waits for its response).

``tokensmith serve`` passes ``HttpProtocol`` as uvicorn's ``http`` option, a
documented extension point (a protocol class instead of "httptools").
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["FLUSH_AT_BYTES", "TIMER_RESOLUTION", "CoalescingTransport", "HttpProtocol"]

TIMER_RESOLUTION = 0.001
"""Seconds; uvloop's timers count whole milliseconds."""

FLUSH_AT_BYTES = 64 * 1024
"""Held writes reaching this size go out at once, so the socket's flow control
(pause_writing) sees a large or streamed body as it is written."""


class CoalescingTransport:
    """A transport whose writes within one event-loop turn go out as one write.

    Everything but ``write``, ``writelines`` and ``close`` is the wrapped
    transport's own. ``close`` writes what is held first, as a transport's
    ``close`` does with its buffer.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(data if isinstance(data, bytes) else bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_AT_BYTES:  # a large body: let flow control see it now
            self._flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        # Asked at least twice per request: spelt out, not found through __getattr__.
        return self._transport.is_closing()

    def _flush(self) -> None:
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` writing through a ``CoalescingTransport``, with a
    keep-alive timer that is re-armed only when it fires."""

    _idle_since: float | None = None
    _idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        super().data_received(data)

    def on_response_complete(self) -> None:
        if self.pipeline or self.transport.is_closing():
            super().on_response_complete()  # a pipelined request starts, or nothing waits
            return
        # uvicorn's own steps for a response with nothing after it, but its timer.
        self.server_state.total_requests += 1
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        self._idle_since = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self._idle_since is None:
            return  # a request came: its response sets the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        # Not "> 0": uvloop rounds a timer to whole milliseconds, so a remainder of a
        # few nanoseconds (float rounding) would fire at once, again and again.
        if left >= TIMER_RESOLUTION:
            self._idle_timer = self.loop.call_later(left, self._check_idle)
        else:
            self.timeout_keep_alive_handler()
