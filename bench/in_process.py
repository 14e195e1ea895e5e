"""client_credentials requests through tokensmith's HTTP protocol in one process, without sockets.

Why: on a shared 2-vCPU guest, req/s under wrk drifts by 20-40% within half an
hour, more than most single changes are worth. This drives the server's own
stack (``HttpProtocol``, uvicorn's parser and ASGI cycle, the app, the signing
turns) with raw HTTP bytes from fake transports, so a change can be timed
without the network and the kernel, and, under valgrind, counted in
instructions, which do not drift (bench/README.md, "Measuring in process").

    python bench/in_process.py                 # microseconds per request, per repetition
    python bench/in_process.py --trivial       # the HTTP layer alone: a fixed ASGI answer
    python bench/in_process.py --requests 2000 --repetitions 1
    python bench/in_process.py --format opaque  # cc_opaque: tokens stored in SQLite
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.server import ServerState

from tokensmith.app import create_app
from tokensmith.bootstrap import prepare
from tokensmith.http_protocol import HttpProtocol
from tokensmith.settings import Settings

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-0123456789abcdef0123456789"


def config(data_dir: Path, access_token_format: str, signing_process: str = "off") -> str:
    """The bench's client and API (bench/run.sh's, client_credentials only)."""
    return f"""issuer = "http://127.0.0.1:9"
data_dir = "{data_dir}"
create_demo_client = false
signing_process = "{signing_process}"

[[clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
token_endpoint_auth_method = "client_secret_basic"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read", "api:write"]
access_token_format = "{access_token_format}"
"""


BODY = b"grant_type=client_credentials&scope=api:read&resource=https%3A%2F%2Fapi.example.test"
CREDENTIALS = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode())
REQUEST = b"".join(
    [
        b"POST /token HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Basic ",
        CREDENTIALS,
        b"\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        b"Content-Length: %d\r\n\r\n" % len(BODY),
        BODY,
    ]
)
TRIVIAL_BODY = b'{"access_token":"x","token_type":"Bearer","expires_in":3600}'


async def trivial_app(scope: Any, receive: Any, send: Any) -> None:
    """What the HTTP layer costs by itself: read the body, answer a fixed token response."""
    await receive()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(TRIVIAL_BODY)),
        (b"cache-control", b"no-store"),
        (b"pragma", b"no-cache"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": TRIVIAL_BODY})


class LoopbackTransport:
    """A connection's transport: each response written sends the next request, up to a budget."""

    def __init__(self, protocol: HttpProtocol, budget: int, done: asyncio.Event) -> None:
        self.protocol = protocol
        self.left = budget
        self.done = done
        self.closing = False

    def write(self, data: bytes) -> None:
        if not data.startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"unexpected response: {data[:300]!r}")
        self.left -= 1
        if self.left > 0:
            self.protocol.loop.call_soon(self.protocol.data_received, REQUEST)
        else:
            self.done.set()

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 9), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def drive(app: Any, requests: int, connections: int) -> float:
    """Microseconds per request for ``requests`` spread over ``connections`` connections."""
    loop = asyncio.get_running_loop()
    config = Config(app, http=HttpProtocol, server_header=False, access_log=False, lifespan="off")
    config.load()
    state = ServerState()
    per_connection = requests // connections
    transports = []
    for _ in range(connections):
        protocol = HttpProtocol(config=config, server_state=state, app_state={}, _loop=loop)
        transport = LoopbackTransport(protocol, per_connection, asyncio.Event())
        protocol.connection_made(transport)  # type: ignore[arg-type]
        transports.append(transport)
    started = time.perf_counter()
    for transport in transports:
        transport.protocol.data_received(REQUEST)
    for transport in transports:
        await transport.done.wait()
    elapsed = time.perf_counter() - started
    for transport in transports:
        transport.protocol.connection_lost(None)
    return elapsed / (per_connection * connections) * 1e6


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tokensmith-in-process-"))
    signing_process = "on" if args.signing_process else "off"
    (folder / "tokensmith.toml").write_text(config(folder / "data", args.format, signing_process))
    settings = Settings.load(folder / "tokensmith.toml")
    app = create_app(settings, freeze_heap=True)
    await prepare(settings)
    async with app.router.lifespan_context(app):
        target = trivial_app if args.trivial else app
        figures = [
            await drive(target, args.requests, args.connections) for _ in range(args.repetitions)
        ]
    print("us/request", " ".join(f"{f:.1f}" for f in figures), f"min {min(figures):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--format", choices=["jwt", "opaque"], default="jwt")
    parser.add_argument(
        "--signing-process",
        action="store_true",
        help="sign in a signing process (its CPU is not counted: it is another process)",
    )
    parser.add_argument("--trivial", action="store_true", help="a fixed ASGI answer, not the app")
    uvloop.run(main(parser.parse_args()))
