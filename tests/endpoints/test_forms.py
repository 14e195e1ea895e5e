"""Reading a form body from the ASGI messages: chunks, size cap, disconnects."""

from __future__ import annotations

import pytest
from starlette.requests import ClientDisconnect, Request

from tokensmith.endpoints import _forms
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


def counted_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The bodies the standard library's parser is given from here on (nothing remembered)."""
    parsed: list[str] = []
    real = _forms.parse_qsl

    def recorded(text: str, **options: object) -> list[tuple[str, str]]:
        parsed.append(text)
        return real(text, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(_forms, "_recent", {})
    monkeypatch.setattr(_forms, "parse_qsl", recorded)
    return parsed


async def test_a_body_seen_a_moment_ago_is_not_parsed_again(monkeypatch):
    parsed = counted_parses(monkeypatch)
    body = b"grant_type=client_credentials&scope=api%3Aread&resource=https%3A%2F%2Fa.test&x="
    first = await read_form(request_of(part(body, False)), 1024)
    second = await read_form(request_of(part(body, False)), 1024)
    expected = [
        ("grant_type", "client_credentials"),
        ("scope", "api:read"),
        ("resource", "https://a.test"),
    ]
    assert first == second == expected
    assert len(parsed) == 1
    first.append(("scope", "changed by a caller"))  # each request gets a list of its own
    assert await read_form(request_of(part(body, False)), 1024) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&client_id=c&client_secret=s3cret",
        b"grant_type=password&username=alice&password=hunter2",
        b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fc.test%2Fcb",
        b"grant_type=refresh_token&refresh_token=rt",
        b"token=opaque-access-token",
        b"grant_type=client_credentials&client_assertion_type=x&client_assertion=eyJ.e30.sig",
    ],
)
async def test_a_body_with_a_credential_is_never_remembered(monkeypatch, body):
    parsed = counted_parses(monkeypatch)
    for _ in range(2):
        await read_form(request_of(part(body, False)), 1024)
    assert len(parsed) == 2
    assert _forms._recent == {}


async def test_large_bodies_and_bad_ones_are_not_remembered(monkeypatch):
    parsed = counted_parses(monkeypatch)
    large = b"scope=" + b"a" * _forms.MEMO_MAX_BYTES
    for _ in range(2):
        assert await read_form(request_of(part(large, False)), 4096) == [("scope", "a" * 1024)]
    bad = b"scope=%FF"  # not UTF-8 once decoded
    for _ in range(2):
        with pytest.raises(InvalidRequest):
            await read_form(request_of(part(bad, False)), 1024)
    assert len(parsed) == 4
    assert _forms._recent == {}


async def test_what_is_remembered_is_bounded_and_the_oldest_goes_first(monkeypatch):
    counted_parses(monkeypatch)
    for n in range(_forms.MEMO_ENTRIES + 50):
        await read_form(request_of(part(b"scope=s%d" % n, False)), 1024)
    assert len(_forms._recent) == _forms.MEMO_ENTRIES
    assert b"scope=s0" not in _forms._recent
    assert b"scope=s%d" % (_forms.MEMO_ENTRIES + 49) in _forms._recent
