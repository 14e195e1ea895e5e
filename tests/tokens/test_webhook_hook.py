"""The webhook claims hook against a real HTTP receiver on 127.0.0.1.

Each test tells the receiver how to answer. The receiver checks what it got the
way a real one would, with ``verify_signature``. Every failure must fail closed
as ``HookFailed`` (or ``HookDenied`` for a deliberate refusal), and never echo
the secret or the environment.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import orjson
import pytest

from tokensmith.tokens.hooks.base import HookDenied, HookFailed, HookInput
from tokensmith.tokens.hooks.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookClaimsHook,
    sign,
    verify_signature,
)

SECRET = "whsec-shared-between-us-only"
ENV_VALUE = "crm-api-key-never-leaves"
TIMEOUT = 0.3
"""The timeout of the tests about timing out."""
ANSWER_TIMEOUT = 10.0
"""Everyone else's: a local receiver answers at once, but a slow CI host under load may
take more than TIMEOUT to get there (seen: 'timed out after 0.3s' for a prompt answer)."""
CAP = 64 * 1024
TEN_MB = 10 * 1024 * 1024

HOOK_INPUT = HookInput(
    token={"iss": "https://issuer.example.test", "sub": "user-1", "scope": "openid"},
    context={
        "user": {"id": "user-1", "username": "ada", "roles": ["admin"]},
        "application": {"client_id": "orders-service"},
        "grant": {"type": "authorization_code", "scopes": ["openid"]},
    },
    environment={"CRM_API_KEY": ENV_VALUE},
)

Respond = Callable[["_Handler"], None]


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int


class _Server(ThreadingHTTPServer):
    # Join handler threads on close, so no thread outlives its test.
    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond: Respond = reply_json({"claims": {"tier": "gold"}})
        self.received: list[Received] = []
        self.release = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection pooling is observable
    timeout = 5  # no handler thread can block teardown for longer
    server: _Server

    def handle(self) -> None:
        # The hook hangs up on purpose after a timeout or an oversize answer.
        with contextlib.suppress(ConnectionError):
            super().handle()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.path, headers, body, self.client_address[1]))
        try:
            self.server.respond(self)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def reply(status: int, body: bytes, **headers: str) -> Respond:
    def respond(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def reply_json(answer: Any, status: int = 200) -> Respond:
    return reply(status, orjson.dumps(answer), Content_Type="application/json")


def reply_after_release(handler: _Handler) -> None:
    handler.server.release.wait(5)
    reply_json({"claims": {"late": True}})(handler)


def reply_huge(*, declared: bool) -> Respond:
    """10 MB of JSON-ish bytes, with Content-Length or chunked (so only the stream cap sees it)."""

    def respond(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declared:
            handler.send_header("Content-Length", str(TEN_MB))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b" " * CAP
        for _ in range(TEN_MB // CAP):
            chunk = piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece)
            handler.wfile.write(chunk)
        if not declared:
            handler.wfile.write(b"0\r\n\r\n")

    return respond


def reply_drip(handler: _Handler) -> None:
    """One byte every 0.1 s for 5 s: no single read is slow, the whole answer is."""
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for _ in range(50):
        if handler.server.release.wait(0.1):
            break
        handler.wfile.write(b"1\r\n \r\n")
    handler.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def receiver() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def url_of(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hooks/claims"


@pytest.fixture
async def hook(receiver: _Server) -> AsyncIterator[WebhookClaimsHook]:
    webhook = WebhookClaimsHook(url_of(receiver), SECRET, timeout_seconds=ANSWER_TIMEOUT)
    yield webhook
    await webhook.aclose()


@pytest.fixture
async def quick_hook(receiver: _Server) -> AsyncIterator[WebhookClaimsHook]:
    webhook = WebhookClaimsHook(url_of(receiver), SECRET, timeout_seconds=TIMEOUT)
    yield webhook
    await webhook.aclose()


async def test_claims_answer_is_returned(hook: WebhookClaimsHook):
    assert await hook.run(HOOK_INPUT) == {"tier": "gold"}


async def test_receiver_verifies_signature_over_exact_body_bytes(
    hook: WebhookClaimsHook, receiver: _Server
):
    await hook.run(HOOK_INPUT)

    [request] = receiver.received
    assert request.path == "/hooks/claims"
    assert request.headers["content-type"] == "application/json"
    timestamp = request.headers[TIMESTAMP_HEADER.lower()]
    signature = request.headers[SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert not verify_signature("another-secret", timestamp, request.body, signature)


async def test_body_is_compact_token_and_context_without_environment(
    hook: WebhookClaimsHook, receiver: _Server
):
    await hook.run(HOOK_INPUT)

    [request] = receiver.received
    expected = {"token": HOOK_INPUT.token, "context": HOOK_INPUT.context}
    assert request.body == orjson.dumps(expected)
    assert ENV_VALUE.encode() not in request.body
    assert b"CRM_API_KEY" not in request.body
    assert b"environment" not in request.body


async def test_deny_answer_raises_hook_denied_with_message(
    hook: WebhookClaimsHook, receiver: _Server
):
    receiver.respond = reply_json({"deny": "account suspended"})

    with pytest.raises(HookDenied) as denied:
        await hook.run(HOOK_INPUT)

    assert denied.value.message == "account suspended"


async def test_connections_are_pooled_across_calls(hook: WebhookClaimsHook, receiver: _Server):
    await hook.run(HOOK_INPUT)
    await hook.run(HOOK_INPUT)

    first, second = receiver.received
    assert first.peer_port == second.peer_port


async def test_slow_receiver_fails_closed_after_timeout(
    quick_hook: WebhookClaimsHook, receiver: _Server
):
    receiver.respond = reply_after_release

    started = time.perf_counter()
    with pytest.raises(HookFailed, match="timed out"):
        await quick_hook.run(HOOK_INPUT)
    elapsed = time.perf_counter() - started

    assert TIMEOUT * 0.8 < elapsed < 2


async def test_dripping_receiver_is_bounded_by_the_whole_request_timeout(
    quick_hook: WebhookClaimsHook, receiver: _Server
):
    receiver.respond = reply_drip

    started = time.perf_counter()
    with pytest.raises(HookFailed, match="timed out"):
        await quick_hook.run(HOOK_INPUT)

    assert time.perf_counter() - started < 2


FAILING_ANSWERS = {
    "http_500": (reply_json({"claims": {"a": 1}}, status=500), "HTTP 500"),
    "not_json": (reply(200, b"<html>oops</html>", Content_Type="text/html"), "not JSON"),
    "json_array": (reply_json([{"claims": {}}]), "not a JSON object"),
    "json_string": (reply_json("claims"), "not a JSON object"),
    "empty_body": (reply(200, b""), "not JSON"),
    "plain_claims_object": (reply_json({"tier": "gold"}), "neither"),
    "claims_not_object": (reply_json({"claims": ["tier"]}), "neither"),
    "claims_and_extra_key": (reply_json({"claims": {}, "tier": "gold"}), "neither"),
    "deny_not_string": (reply_json({"deny": True}), "neither"),
    "error_object_shape": (
        reply_json({"error": {"code": "access_denied", "message": "no"}}),
        "neither",
    ),
    "redirect": (reply(302, b"", Location="/hooks/elsewhere"), "HTTP 302"),
    "gzip_encoded": (
        reply(200, gzip.compress(b'{"claims": {}}'), Content_Encoding="gzip"),
        "encoded",
    ),
    "declared_10mb": (reply_huge(declared=True), "over 65536 bytes"),
    "chunked_10mb": (reply_huge(declared=False), "over 65536 bytes"),
}


@pytest.mark.parametrize(("respond", "reason"), FAILING_ANSWERS.values(), ids=list(FAILING_ANSWERS))
async def test_bad_answer_fails_closed_without_leaking_secrets(
    hook: WebhookClaimsHook, receiver: _Server, respond: Respond, reason: str
):
    receiver.respond = respond

    started = time.perf_counter()
    with pytest.raises(HookFailed) as failed:
        await hook.run(HOOK_INPUT)

    assert reason in failed.value.reason
    assert time.perf_counter() - started < ANSWER_TIMEOUT / 2  # refused, not waited out
    for text in (str(failed.value), repr(failed.value)):
        assert SECRET not in text
        assert ENV_VALUE not in text
        assert "/hooks/claims" not in text
    assert len(receiver.received) == 1  # a redirect is not followed


async def test_closed_port_fails_closed():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook = WebhookClaimsHook(f"http://127.0.0.1:{port}/", SECRET, timeout_seconds=TIMEOUT)
    try:
        with pytest.raises(HookFailed, match="ConnectError"):
            await webhook.run(HOOK_INPUT)
    finally:
        await webhook.aclose()


async def test_unserialisable_input_fails_closed(hook: WebhookClaimsHook, receiver: _Server):
    bad = HookInput(token={"iat": object()}, context={})

    with pytest.raises(HookFailed, match="JSON-serialisable"):
        await hook.run(bad)

    assert receiver.received == []


async def test_lent_client_is_left_open(receiver: _Server):
    async with httpx2.AsyncClient() as client:
        webhook = WebhookClaimsHook(url_of(receiver), SECRET, client=client)
        assert await webhook.run(HOOK_INPUT) == {"tier": "gold"}
        await webhook.aclose()
        assert not client.is_closed


async def test_repr_shows_origin_only():
    webhook = WebhookClaimsHook("https://hooks.example.test/claims?key=k", SECRET)
    assert repr(webhook) == "WebhookClaimsHook('https://hooks.example.test')"
    await webhook.aclose()


@pytest.mark.parametrize(
    ("url", "secret", "timeout"),
    [
        ("ftp://hooks.example.test/", SECRET, 1.0),
        ("/relative/path", SECRET, 1.0),
        ("https://hooks.example.test/", "", 1.0),
        ("https://hooks.example.test/", SECRET, 0.0),
    ],
)
def test_constructor_rejects_unusable_configuration(url: str, secret: str, timeout: float):
    with pytest.raises(ValueError, match="webhook"):
        WebhookClaimsHook(url, secret, timeout_seconds=timeout)


def signed(timestamp: int) -> tuple[bytes, str]:
    body = orjson.dumps({"token": HOOK_INPUT.token, "context": HOOK_INPUT.context})
    return body, sign(SECRET, timestamp, body)


def test_verify_accepts_a_fresh_signature():
    now = int(time.time())
    body, signature = signed(now)
    assert verify_signature(SECRET, str(now), body, signature)


def test_verify_rejects_a_tampered_body():
    now = int(time.time())
    body, signature = signed(now)
    tampered = body.replace(b"user-1", b"user-2")
    assert not verify_signature(SECRET, str(now), tampered, signature)


def test_verify_rejects_an_old_timestamp_even_when_correctly_signed():
    old = int(time.time()) - 301
    body, signature = signed(old)
    assert not verify_signature(SECRET, str(old), body, signature)
    assert verify_signature(SECRET, str(old), body, signature, tolerance_seconds=3600)


def test_verify_rejects_a_timestamp_swapped_under_an_old_signature():
    old = int(time.time()) - 3600
    body, signature = signed(old)
    assert not verify_signature(SECRET, str(int(time.time())), body, signature)


def test_verify_rejects_a_timestamp_from_the_future():
    future = int(time.time()) + 301
    body, signature = signed(future)
    assert not verify_signature(SECRET, str(future), body, signature)


@pytest.mark.parametrize("shape", ["not-a-number", "+{now}", " {now}", "{now}.0", "-{now}"])
def test_verify_rejects_a_timestamp_not_written_as_we_send_it(shape: str):
    now = int(time.time())
    body, signature = signed(now)
    assert not verify_signature(SECRET, shape.format(now=now), body, signature)


@pytest.mark.parametrize("header", ["", "deadbeef", "sha1=deadbeef", "sha256=ñ", "sha256="])
def test_verify_rejects_malformed_signature_headers(header: str):
    now = int(time.time())
    body, _ = signed(now)
    assert not verify_signature(SECRET, str(now), body, header)
