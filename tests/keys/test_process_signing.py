"""SigningTurns(use_signing_process=True): signatures made by a real child process.

Every signature must come back to its caller and verify, whatever the child
does: not started yet, stopped, killed, too far behind, or closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import orjson
import pytest
from joserfc.jwk import ECKey

from tests.helpers import stopped_process
from tests.keys.test_signing_turns import claims, signing_key, verified
from tokensmith.helper_process import LoopHelper
from tokensmith.keys import compact_signing, process_signer, signing_turns
from tokensmith.keys.material import SigningKey
from tokensmith.keys.process_signer import ProcessSigner
from tokensmith.keys.signing_process import (
    ANSWER,
    HEADER_LENGTH,
    KEY,
    READY,
    REQUEST,
    SIGN,
    answer_frames,
)
from tokensmith.keys.signing_turns import SigningTurns

READY_SECONDS = 20


def header(key: SigningKey) -> dict[str, str]:
    return {"alg": "ES256", "kid": key.kid}


async def ready_signer(turns: SigningTurns, key: SigningKey) -> ProcessSigner:
    """Sign once to start this loop's signing process, then wait until it takes turns."""
    await turns.sign(header(key), claims(0), key)
    signer = turns.signing_process()
    assert signer is not None
    for _ in range(READY_SECONDS * 100):
        if signer.can_take(1):
            return signer
        await asyncio.sleep(0.01)
    raise AssertionError("the signing process did not become ready")


@pytest.fixture
async def ready() -> AsyncIterator[tuple[SigningTurns, SigningKey, ProcessSigner]]:
    """Turns with a signing process that takes turns, a key, the process; closed after."""
    turns = SigningTurns(use_signing_process=True)
    key = signing_key()
    signer = await ready_signer(turns, key)
    try:
        yield turns, key, signer
    finally:
        await turns.aclose()


def no_signing_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any signature made in this process fail, so a token can only come from the child."""

    def refused(*_args: object) -> str:
        raise AssertionError("signed in the worker")

    monkeypatch.setattr(signing_turns, "sign_compact", refused)
    monkeypatch.setattr(signing_turns, "signed_compact", refused)


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_a_turn_is_signed_by_a_child_process_and_verifies(ready, monkeypatch):
    turns, key, signer = ready
    other = signing_key()
    assert signer.pid is not None and signer.pid != os.getpid()
    assert "tokensmith/keys/signing_process.py" in command_line(signer.pid)
    no_signing_here(monkeypatch)
    keys = [key, other]

    tokens = await asyncio.gather(
        *(turns.sign(header(keys[n % 2]), claims(n), keys[n % 2]) for n in range(200))
    )

    for number, token in enumerate(tokens):
        assert verified(token, keys[number % 2])["sub"] == f"user-{number}"


async def test_the_first_signatures_are_made_here_while_the_process_starts():
    turns = SigningTurns(use_signing_process=True)
    key = signing_key()
    try:
        token = await turns.sign(header(key), claims(1), key)
        assert verified(token, key)["sub"] == "user-1"
        signer = turns.signing_process()
        assert signer is not None and not signer.can_take(1)  # still starting
        assert await ready_signer(turns, key) is signer  # and it comes up
    finally:
        await turns.aclose()


async def test_a_killed_process_loses_no_signature_and_another_starts_later(
    ready, monkeypatch, caplog
):
    turns, key, signer = ready
    first_pid = signer.pid
    monkeypatch.setattr(LoopHelper, "restart_seconds", 0.5)
    caplog.set_level(logging.WARNING, logger=process_signer.__name__)
    with stopped_process(signer.pid):  # it takes the turn and answers none of it
        asking = asyncio.gather(*(turns.sign(header(key), claims(n), key) for n in range(50)))
        await asyncio.sleep(0.05)
        assert not asking.done()
        os.kill(signer.pid, signal.SIGKILL)
        tokens = await asyncio.wait_for(asking, READY_SECONDS)

    assert [verified(t, key)["sub"] for t in tokens] == [f"user-{n}" for n in range(50)]
    assert "50 signatures unanswered" in caplog.text
    # For RESTART_SECONDS the loop signs here, then it starts another process.
    token = await turns.sign(header(key), claims(60), key)
    assert verified(token, key)["sub"] == "user-60"
    assert turns.signing_process() is signer
    await asyncio.sleep(0.6)
    second = await ready_signer(turns, key)
    assert second is not signer and second.pid not in (None, first_pid)


async def test_a_process_too_far_behind_is_passed_by(ready, monkeypatch):
    turns, key, signer = ready
    monkeypatch.setattr(ProcessSigner, "max_in_flight", 3)
    with stopped_process(signer.pid):
        waiting = asyncio.gather(*(turns.sign(header(key), claims(n), key) for n in range(3)))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the stopped child holds these three

        # The next turn would pass the limit: it is signed here, at once.
        passed = await asyncio.wait_for(
            asyncio.gather(*(turns.sign(header(key), claims(n), key) for n in (3, 4))), 5
        )
        assert [verified(t, key)["sub"] for t in passed] == ["user-3", "user-4"]

    held = await asyncio.wait_for(waiting, READY_SECONDS)
    assert [verified(t, key)["sub"] for t in held] == ["user-0", "user-1", "user-2"]


async def test_a_caller_cancelled_while_its_signature_is_out_is_skipped(ready):
    turns, key, signer = ready
    with stopped_process(signer.pid):
        gone_caller = asyncio.ensure_future(turns.sign(header(key), claims(1), key))
        kept = asyncio.ensure_future(turns.sign(header(key), claims(2), key))
        await asyncio.sleep(0.05)
        gone_caller.cancel()
    assert verified(await asyncio.wait_for(kept, READY_SECONDS), key)["sub"] == "user-2"
    assert gone_caller.cancelled()


async def test_a_wrong_alg_fails_its_caller_only(ready, monkeypatch):
    turns, key, _signer = ready
    no_signing_here(monkeypatch)
    outcomes = await asyncio.gather(
        turns.sign(header(key), claims(1), key),
        turns.sign({"alg": "none", "kid": key.kid}, claims(2), key),
        turns.sign(header(key), claims(3), key),
        return_exceptions=True,
    )
    assert verified(outcomes[0], key)["sub"] == "user-1"
    assert isinstance(outcomes[1], ValueError)
    assert verified(outcomes[2], key)["sub"] == "user-3"


async def test_closing_ends_the_child(ready):
    turns, _key, signer = ready
    await turns.aclose()
    assert signer.ended
    assert signer.pid is not None and not running(signer.pid)  # ended and reaped


async def test_in_the_worker_by_default_no_process_is_started():
    turns = SigningTurns()
    key = signing_key()
    assert verified(await turns.sign(header(key), claims(1), key), key)["sub"] == "user-1"
    assert turns.signing_process() is None


def test_the_child_answers_whole_frames_and_keeps_the_rest():
    key = signing_key()
    key_body = b"ES256 " + process_signer._der(key)  # what the worker sends
    header_json = orjson.dumps(header(key))
    sign_body = HEADER_LENGTH.pack(len(header_json)) + header_json + claims(1)
    stream = (
        REQUEST.pack(KEY, 0, 0, len(key_body))
        + key_body
        + REQUEST.pack(SIGN, 0, 0, len(sign_body))
        + sign_body
        + REQUEST.pack(SIGN, 7, 1, len(sign_body))  # a slot with no key: refused
        + sign_body
    )
    keys: dict = {}
    answers = b""
    unread = b""
    for at in range(0, len(stream), 5):  # five bytes at a time, frames split anywhere
        more, unread = answer_frames(unread + stream[at : at + 5], keys)
        answers += more
    assert unread == b""

    status, sequence, length = ANSWER.unpack_from(answers)
    token = answers[ANSWER.size : ANSWER.size + length].decode()
    assert (status, sequence) == (0, 0)
    assert verified(token, key)["sub"] == "user-1"
    assert jwt.get_unverified_header(token) == header(key)
    rest = answers[ANSWER.size + length :]
    status, sequence, length = ANSWER.unpack_from(rest)
    assert (status, sequence) == (1, 1) and rest[ANSWER.size :] == b"no key in this slot"


async def test_the_worker_reads_answers_split_anywhere():
    key = signing_key()
    loop = asyncio.get_running_loop()
    signer = ProcessSigner(lambda unanswered: None)
    header_json = orjson.dumps(header(key))
    token = compact_signing.signed_compact(header_json, claims(1), key)
    futures = [loop.create_future() for _ in range(3)]
    signer._in_flight.extend((future, header_json, claims(1), key) for future in futures)
    reason = b"no key in this slot"
    stream = (
        READY
        + ANSWER.pack(0, 0, len(token))
        + token.encode()
        + ANSWER.pack(1, 1, len(reason))
        + reason
        + ANSWER.pack(0, 2, len(token))
        + token.encode()
    )
    for at in range(len(stream)):  # a byte at a time
        signer.pipe_data_received(1, stream[at : at + 1])

    assert futures[0].result() == token
    with pytest.raises(RuntimeError, match="no key in this slot"):
        futures[1].result()
    assert futures[2].result() == token


async def test_a_key_without_a_private_part_fails_its_callers_only(ready, monkeypatch):
    turns, key, _signer = ready
    no_signing_here(monkeypatch)
    public_only = SigningKey(
        kid="public-only", algorithm="ES256", key=ECKey.import_key(key.key.as_dict(private=False))
    )
    outcomes = await asyncio.gather(
        turns.sign(header(key), claims(1), key),
        turns.sign({"alg": "ES256", "kid": "public-only"}, claims(2), public_only),
        turns.sign(header(key), claims(3), key),
        return_exceptions=True,
    )
    assert verified(outcomes[0], key)["sub"] == "user-1"
    assert isinstance(outcomes[1], ValueError) and "no private part" in str(outcomes[1])
    assert verified(outcomes[2], key)["sub"] == "user-3"


async def test_a_failing_write_to_the_process_signs_the_turn_here(ready, monkeypatch):
    turns, key, signer = ready

    def broken(_data: bytes) -> None:
        raise RuntimeError("the pipe is gone")

    monkeypatch.setattr(signer._stdin, "write", broken)
    tokens = await asyncio.wait_for(
        asyncio.gather(*(turns.sign(header(key), claims(n), key) for n in range(3))), 5
    )
    assert [verified(t, key)["sub"] for t in tokens] == ["user-0", "user-1", "user-2"]
    assert signer.ended


async def test_a_hung_process_is_ended_and_what_it_held_signed_here(ready, monkeypatch, caplog):
    turns, key, signer = ready
    monkeypatch.setattr(ProcessSigner, "answer_seconds", 0.3)
    caplog.set_level(logging.WARNING, logger=process_signer.__name__)
    with stopped_process(signer.pid):  # never continued: only the watchdog can free these callers
        tokens = await asyncio.wait_for(
            asyncio.gather(*(turns.sign(header(key), claims(n), key) for n in range(5))), 5
        )
        assert [verified(t, key)["sub"] for t in tokens] == [f"user-{n}" for n in range(5)]
        assert signer.ended
        assert "answered nothing" in caplog.text


async def test_an_answer_out_of_order_ends_the_process_and_hands_no_token_out():
    key = signing_key()
    loop = asyncio.get_running_loop()
    signed_here: list = []
    signer = ProcessSigner(signed_here.extend)
    header_json = orjson.dumps(header(key))
    token = compact_signing.signed_compact(header_json, claims(1), key)
    futures = [loop.create_future() for _ in range(2)]
    signer._in_flight.extend((future, header_json, claims(1), key) for future in futures)

    signer.pipe_data_received(1, READY + ANSWER.pack(0, 1, len(token)) + token.encode())

    assert signer.ended
    assert not any(future.done() for future in futures)  # no answer was taken on trust
    assert [item[0] for item in signed_here] == futures  # both go to the worker instead


async def test_a_process_that_cannot_start_leaves_signing_to_the_worker(monkeypatch, caplog):
    monkeypatch.setattr(ProcessSigner, "command", lambda _self: ["/nonexistent/python"])
    caplog.set_level(logging.WARNING, logger=process_signer.__name__)
    turns = SigningTurns(use_signing_process=True)
    key = signing_key()
    try:
        for number in range(3):  # each turn after the failed start is signed here
            token = await turns.sign(header(key), claims(number), key)
            assert verified(token, key)["sub"] == f"user-{number}"
        signer = turns.signing_process()
        assert signer is not None and signer.ended
        assert "could not start the signing process" in caplog.text
    finally:
        await turns.aclose()


async def test_a_token_larger_than_64_kib_comes_back_whole(ready, monkeypatch):
    turns, key, _signer = ready
    no_signing_here(monkeypatch)
    payload = orjson.dumps({"sub": "user-big", "aud": "https://api", "blob": "x" * 100_000})
    token = await turns.sign(header(key), payload, key)
    assert verified(token, key)["blob"] == "x" * 100_000


async def test_once_closed_the_loop_signs_by_itself_and_starts_no_process(ready):
    turns, key, signer = ready
    await turns.aclose()
    assert verified(await turns.sign(header(key), claims(1), key), key)["sub"] == "user-1"
    assert turns.signing_process() is None
    assert signer.ended
