"""SigningTurns: one turn's tokens signed in a row, each caller getting its own token or error."""

from __future__ import annotations

import asyncio
import threading

import jwt
import orjson
import pytest
from joserfc.jwk import ECKey

from tokensmith.keys import signing_turns
from tokensmith.keys.material import SigningKey
from tokensmith.keys.signing_turns import SigningTurns


def signing_key() -> SigningKey:
    key = ECKey.generate_key("P-256", auto_kid=True)
    return SigningKey(kid=key.kid or key.thumbprint(), algorithm="ES256", key=key)


def claims(number: int) -> bytes:
    return orjson.dumps({"sub": f"user-{number}", "aud": "https://api"})


def verified(token: str, key: SigningKey) -> dict:
    public_pem = key.key.as_pem(private=False)
    return jwt.decode(token, public_pem, algorithms=["ES256"], audience="https://api")


def recording_signatures(monkeypatch: pytest.MonkeyPatch, events: list[str]) -> None:
    original = signing_turns.sign_compact

    def recorded(header, payload, key):
        events.append(f"sign {orjson.loads(payload)['sub']}")
        return original(header, payload, key)

    monkeypatch.setattr(signing_turns, "sign_compact", recorded)


def waiting(turns: SigningTurns) -> dict:
    """Each event loop's signatures still waiting for the end of its turn."""
    return dict(turns._waiting._values)


def recorded_turns(monkeypatch: pytest.MonkeyPatch):
    """SigningTurns whose signatures are recorded, a key, and a header for it."""
    events: list[str] = []
    recording_signatures(monkeypatch, events)
    key = signing_key()
    return events, SigningTurns(), key, {"alg": "ES256", "kid": key.kid}


async def test_the_turns_requests_are_signed_in_a_row_after_they_all_asked(monkeypatch):
    events: list[str] = []
    recording_signatures(monkeypatch, events)
    turns = SigningTurns()
    keys = [signing_key(), signing_key()]

    async def request(number: int) -> str:
        events.append(f"ask user-{number}")
        key = keys[number % 2]
        return await turns.sign({"alg": "ES256", "kid": key.kid}, claims(number), key)

    tokens = await asyncio.gather(*(request(n) for n in range(4)))

    # Signed one after another once every request of the turn had asked, not in between.
    assert events == [f"ask user-{n}" for n in range(4)] + [f"sign user-{n}" for n in range(4)]
    for number, token in enumerate(tokens):
        assert verified(token, keys[number % 2])["sub"] == f"user-{number}"
        assert jwt.get_unverified_header(token)["kid"] == keys[number % 2].kid
    assert not any(waiting(turns).values())  # nothing left behind for the loop


async def test_a_failing_signature_fails_its_caller_only():
    turns = SigningTurns()
    key = signing_key()
    outcomes = await asyncio.gather(
        turns.sign({"alg": "ES256", "kid": key.kid}, claims(1), key),
        turns.sign({"alg": "none", "kid": key.kid}, claims(2), key),
        turns.sign({"alg": "ES256", "kid": key.kid}, claims(3), key),
        return_exceptions=True,
    )
    assert verified(outcomes[0], key)["sub"] == "user-1"
    assert isinstance(outcomes[1], ValueError)
    assert verified(outcomes[2], key)["sub"] == "user-3"


async def test_a_cancelled_caller_is_not_signed_for(monkeypatch):
    events, turns, key, header = recorded_turns(monkeypatch)
    gone = asyncio.ensure_future(turns.sign(header, claims(1), key))
    kept = asyncio.ensure_future(turns.sign(header, claims(2), key))
    await asyncio.sleep(0)  # both are waiting for the end of the turn
    gone.cancel()
    assert verified(await kept, key)["sub"] == "user-2"
    assert gone.cancelled()
    assert events == ["sign user-2"]


async def test_the_next_turn_starts_a_new_batch(monkeypatch):
    events, turns, key, header = recorded_turns(monkeypatch)
    first = await turns.sign(header, claims(1), key)
    second = await turns.sign(header, claims(2), key)
    assert [verified(t, key)["sub"] for t in (first, second)] == ["user-1", "user-2"]
    assert events == ["sign user-1", "sign user-2"]


def test_each_event_loop_signs_its_own_callers():
    turns = SigningTurns()
    key = signing_key()
    header = {"alg": "ES256", "kid": key.kid}
    results: dict[int, list[str]] = {}
    start = threading.Barrier(2)

    def run_loop(number: int) -> None:
        async def main() -> list[str]:
            start.wait()
            return list(
                await asyncio.gather(*(turns.sign(header, claims(number), key) for _ in range(20)))
            )

        results[number] = asyncio.run(main())

    threads = [threading.Thread(target=run_loop, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for number in (1, 2):
        assert [verified(t, key)["sub"] for t in results[number]] == [f"user-{number}"] * 20
    assert not any(waiting(turns).values())


def test_what_a_loop_closed_mid_turn_left_waiting_is_dropped_at_the_next_turn():
    turns = SigningTurns()
    key = signing_key()
    header = {"alg": "ES256", "kid": key.kid}
    loop = asyncio.new_event_loop()

    left: list[asyncio.Future[str]] = []

    async def ask_and_stop() -> None:
        left.append(asyncio.ensure_future(turns.sign(header, claims(1), key)))
        await asyncio.sleep(0)  # the signature waits for the end of the turn...
        loop.stop()  # ...which never comes
        await asyncio.sleep(1)

    stopper = loop.create_task(ask_and_stop())
    loop.run_forever()
    loop.close()
    assert list(waiting(turns)) == [loop]
    assert len(waiting(turns)[loop]) == 1
    assert not stopper.done() and not left[0].done()

    async def next_turn() -> str:
        return await turns.sign(header, claims(2), key)

    assert verified(asyncio.run(next_turn()), key)["sub"] == "user-2"
    assert loop not in waiting(turns)  # dropped when the next loop first signed
    assert not any(waiting(turns).values())


def test_an_interrupt_while_signing_leaves_nobody_of_the_turn_waiting(monkeypatch):
    original = signing_turns.sign_compact

    def interrupted(header, payload, key):
        if orjson.loads(payload)["sub"] == "user-2":
            raise KeyboardInterrupt
        return original(header, payload, key)

    monkeypatch.setattr(signing_turns, "sign_compact", interrupted)
    turns = SigningTurns()
    key = signing_key()
    header = {"alg": "ES256", "kid": key.kid}
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(3)]
        turn = [(f, header, claims(n + 1), key) for n, f in enumerate(futures)]
        with pytest.raises(KeyboardInterrupt):
            turns._sign_waiting(turn)
        assert turn == []
        assert verified(futures[0].result(), key)["sub"] == "user-1"
        assert futures[1].cancelled() and futures[2].cancelled()
    finally:
        loop.close()
