"""Assertions shared by the test modules."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx2


def assert_oauth_error(
    response: httpx2.Response, error: str, status: int, *, description: bool = True
) -> dict[str, Any]:
    """The response is an RFC 6749 section 5.2 error: status, JSON, no-store, ``error``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri"}, body
    if description:
        assert body.get("error_description"), body
    return body


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, without checking the signature."""
    header_b64, payload_b64, _ = token.split(".")

    def part(segment: str) -> dict[str, Any]:
        padded = segment + "=" * (-len(segment) % 4)
        return json.loads(base64.urlsafe_b64decode(padded))

    return part(header_b64), part(payload_b64)


def answer_json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """Answer 200 with ``body`` as JSON, from a test's http.server webhook receiver."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


async def busy_turns(turns: int) -> None:
    """Pass ``turns`` turns of the event loop, letting go of the interpreter lock a while
    in each, as a loop busy with requests does: a thread waiting for the lock (a SQLite
    writer handed a batch) gets it then."""
    for _ in range(turns):
        time.sleep(0.005)  # noqa: ASYNC251 (blocking on purpose: the lock is let go)
        await asyncio.sleep(0)


@contextmanager
def stopped_process(pid: int | None) -> Iterator[None]:
    """A helper process stopped (SIGSTOP): it takes what is sent and answers nothing until
    the block ends (unless it was killed meanwhile)."""
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
