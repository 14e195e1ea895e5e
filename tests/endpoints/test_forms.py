"""Reading a form body from the ASGI messages: chunks, size cap, disconnects."""

from __future__ import annotations

import pytest
from starlette.requests import ClientDisconnect, Request

from tokensmith.endpoints._forms import read_form
from tokensmith.errors import InvalidRequest, RequestTooLarge

FORM_HEADERS = [(b"content-type", b"application/x-www-form-urlencoded")]


def request_of(*messages: dict) -> Request:
    pending = list(messages)

    async def receive() -> dict:
        if not pending:
            raise AssertionError("read past the last message")
        return pending.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/token", "headers": FORM_HEADERS}
    return Request(scope, receive)


def part(body: bytes, more: bool = True) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


async def test_a_body_in_several_messages_is_read_whole():
    request = request_of(
        part(b"grant_type=client_"), part(b""), part(b"credentials&scope=a+b", False)
    )
    assert await read_form(request, 1024) == [
        ("grant_type", "client_credentials"),
        ("scope", "a b"),
    ]


async def test_a_message_without_a_body_is_an_empty_form():
    assert await read_form(request_of({"type": "http.request"}), 1024) == []


async def test_a_body_past_the_cap_is_refused_while_it_arrives():
    # No content-length: the cap holds on what arrives, and the rest is never read.
    request = request_of(part(b"a=" + b"x" * 600), part(b"x" * 600))
    with pytest.raises(RequestTooLarge):
        await read_form(request, 1000)
    with pytest.raises(RequestTooLarge):  # the outcome is kept for a second reader
        await read_form(request, 1000)


async def test_a_client_that_goes_away_mid_body_is_a_disconnect():
    request = request_of(part(b"grant_type=cli"), {"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        await read_form(request, 1024)


async def test_a_body_that_is_not_ascii_is_invalid():
    with pytest.raises(InvalidRequest):
        await read_form(request_of(part("scope=é".encode(), False)), 1024)
