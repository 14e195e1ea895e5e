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
import logging
from collections.abc import Callable
from typing import ClassVar

from cryptography.hazmat.primitives import serialization

from tokensmith.helper_process import HelperProcess
from tokensmith.keys import signing_process
from tokensmith.keys.compact_signing import private_key_of
from tokensmith.keys.material import SigningKey
from tokensmith.keys.signing_process import HEADER_LENGTH, KEY, REQUEST, SIGN, SIGNED

__all__ = ["InFlight", "ProcessSigner"]

logger = logging.getLogger(__name__)

InFlight = tuple["asyncio.Future[str]", bytes, bytes, SigningKey]
"""A caller's future, the header's JSON, the payload and the key: kept until answered."""


class ProcessSigner(HelperProcess[InFlight]):
    script: ClassVar[str] = signing_process.__file__
    what: ClassVar[str] = "the signing process"
    unanswered: ClassVar[str] = "%d signatures unanswered; signing them here"

    def __init__(self, sign_here: Callable[[list[InFlight]], None]) -> None:
        """``sign_here``: signs what the child took and will not answer, if it ends."""
        super().__init__(sign_here, logger)
        # (kid, alg) -> slot. A kid is the key's RFC 7638 thumbprint, so one kid is one key pair.
        self._slots: dict[tuple[str, str], int] = {}

    def send_turn(self, turn: list[InFlight]) -> None:
        """Ask for ``turn``'s signatures in one write; each future is set when its answer comes.

        The headers must name their keys' algs (``compact_signing.check_alg``); a key
        without a private part fails its callers here. If the write fails, the child is
        taken as ended and the turn is signed in the worker.
        """
        frames: list[bytes] = []
        sent: list[InFlight] = []
        sequence = self.next_sequence
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
        self.send(sent, b"".join(frames))

    def on_answer(self, item: InFlight, status: int, body: bytes) -> None:
        signed = item[0]
        if signed.done():  # cancelled meanwhile
            return
        if status == SIGNED:
            signed.set_result(body.decode("ascii"))
        else:
            signed.set_exception(RuntimeError(f"signing process: {body.decode()}"))


def _der(key: SigningKey) -> bytes:
    return private_key_of(key).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
