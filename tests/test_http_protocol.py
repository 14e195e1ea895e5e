"""tokensmith serve writes each response to the socket in one piece."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.config import Config
from uvicorn.server import ServerState

import tokensmith.cli
from tokensmith.http_protocol import (
    FLUSH_AT_BYTES,
    TIMER_RESOLUTION,
    CoalescingTransport,
    HttpProtocol,
)


class RecordingTransport(asyncio.Transport):
    """A socket's transport that remembers each write and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.closed_after_writes = -1

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True
        self.closed_after_writes = len(self.writes)

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def token_endpoint(_request: Any) -> JSONResponse:
    return JSONResponse({"access_token": "x" * 40, "token_type": "Bearer"})


APP = Starlette(routes=[Route("/token", token_endpoint, methods=["POST"])])
REQUEST = b"POST /token HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n%s\r\n"


async def serve_one(request: bytes) -> RecordingTransport:
    config = Config(APP, lifespan="off", log_config=None, server_header=False)
    protocol = HttpProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(100):  # the app's task, then the flush at the end of its turn
        await asyncio.sleep(0)
    return transport


async def test_a_response_leaves_in_one_write() -> None:
    transport = await serve_one(REQUEST % b"")
    [response] = transport.writes  # uvicorn alone: status line and headers, then the body
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b'"token_type":"Bearer"}')
    assert not transport.closed  # keep-alive


async def test_connection_close_writes_the_response_before_closing() -> None:
    transport = await serve_one(REQUEST % b"Connection: close\r\n")
    assert len(transport.writes) == 1
    assert transport.writes[0].endswith(b'"token_type":"Bearer"}')
    assert transport.closed and transport.closed_after_writes == 1


async def test_writes_of_one_turn_are_joined_and_later_ones_go_out_on_their_own() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"a")
    transport.write(b"")
    transport.writelines([bytearray(b"b"), memoryview(b"c")])
    assert inner.writes == []  # held until the end of this turn
    await asyncio.sleep(0)
    transport.write(b"d")
    await asyncio.sleep(0)
    assert inner.writes == [b"abc", b"d"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 50000)  # the rest is the socket's


async def test_a_large_body_goes_out_without_waiting_for_the_end_of_the_turn() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"headers")
    transport.write(b"x" * FLUSH_AT_BYTES)
    assert inner.writes == [b"headers" + b"x" * FLUSH_AT_BYTES]  # at once
    transport.write(b"tail")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"tail"]


async def test_what_is_written_after_the_socket_closed_is_dropped() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"late")
    inner.close()  # the peer went away meanwhile
    await asyncio.sleep(0)
    assert inner.writes == []


def test_serve_runs_uvicorn_with_the_coalescing_protocol(monkeypatch, tmp_path) -> None:
    options: list[dict[str, Any]] = []
    monkeypatch.setattr(tokensmith.cli.uvicorn, "run", lambda app, **kw: options.append(kw))
    config = tmp_path / "tokensmith.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    result = CliRunner().invoke(tokensmith.cli.main, ["serve", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert options[0]["http"] is HttpProtocol


async def slow_endpoint(_request: Any) -> JSONResponse:
    await asyncio.sleep(0.3)
    return JSONResponse({"slow": True})


KEEP_ALIVE_APP = Starlette(
    routes=[
        Route("/token", token_endpoint, methods=["POST"]),
        Route("/slow", slow_endpoint, methods=["POST"]),
    ]
)
SLOW_REQUEST = b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"


def keep_alive_connection(timeout: float) -> tuple[HttpProtocol, RecordingTransport]:
    config = Config(
        KEEP_ALIVE_APP,
        lifespan="off",
        log_config=None,
        server_header=False,
        timeout_keep_alive=timeout,  # type: ignore[arg-type]
    )
    protocol = HttpProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def answered(transport: RecordingTransport, count: int) -> None:
    for _ in range(400):
        if len(transport.writes) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{len(transport.writes)} responses, expected {count}")


async def test_an_idle_connection_closes_a_timeout_after_its_last_response() -> None:
    protocol, transport = keep_alive_connection(0.2)
    for count in (1, 2):
        protocol.data_received(REQUEST % b"")
        await answered(transport, count)
        await asyncio.sleep(0.12)  # the second time, past the first response's deadline
        assert not transport.closed
    await asyncio.sleep(0.2)
    assert transport.closed


async def test_a_request_in_progress_is_not_cut_by_the_timer() -> None:
    protocol, transport = keep_alive_connection(0.2)
    protocol.data_received(REQUEST % b"")
    await answered(transport, 1)
    protocol.data_received(SLOW_REQUEST)  # 0.3 s, longer than the timeout
    await answered(transport, 2)
    assert transport.writes[1].endswith(b'{"slow":true}')
    assert not transport.closed
    await asyncio.sleep(0.3)
    assert transport.closed


async def test_one_timer_serves_a_busy_connection(monkeypatch) -> None:
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_later = loop.call_later

    def counted(delay: float, *args: Any) -> asyncio.TimerHandle:
        armed.append(delay)
        return call_later(delay, *args)

    monkeypatch.setattr(loop, "call_later", counted)
    protocol, transport = keep_alive_connection(5)
    for count in range(1, 21):
        protocol.data_received(REQUEST % b"")
        await answered(transport, count)
    # The test's own waits are 5 ms; uvicorn alone arms (and cancels) a 5 s timer per response.
    assert [delay for delay in armed if delay >= 1] == [5]
    protocol.connection_lost(None)
    assert transport.closed


async def test_a_timer_that_fires_within_a_millisecond_of_the_deadline_closes() -> None:
    # uvloop fires timers up to a millisecond early and rounds shorter delays to zero:
    # re-arming for the remainder would spin until the clock moves on.
    protocol, transport = keep_alive_connection(5)
    protocol.data_received(REQUEST % b"")
    await answered(transport, 1)
    protocol._idle_since = protocol.loop.time() - 5 + TIMER_RESOLUTION / 2
    protocol._check_idle()
    assert transport.closed
    assert protocol._idle_timer is None
