"""The signing process: a worker's ES256/384/512 signatures, made on another core.

A worker serves its requests on one thread, and CPython's interpreter lock
lets a second thread sign only while the event loop does not hold the lock,
which under load it always does (docs/performance.md). A child process has a
lock of its own. The worker sends it the signing inputs of a whole turn of its
event loop in one write and reads the turn's signatures back in one read, so
the signature, a quarter of a client_credentials request's CPU, moves off the
worker's core. node-oidc-provider does the same with libuv's thread pool.

This module is the wire format both sides share and the child's main loop
(``main``, run as ``python -P .../tokensmith/keys/signing_process.py``, so that the
child imports cryptography and the standard library only); ``process_signer.py``
is the worker's side. Frames to the child,
on its stdin, are a ``REQUEST`` header and a body:

- ``KEY``: the body is the alg, a space and the private key (PKCS #8 DER) for
  the slot; nothing is answered.
- ``SIGN``: the body is the JWS header's length (``HEADER_LENGTH``), the
  header's JSON and the payload, to be signed with the slot's key.

The child first writes ``READY``, once its imports are done. Then it answers
each ``SIGN`` frame in order with an ``ANSWER`` header and a body: the JWS
compact serialization (``compact_jws``), or why it refused. It ends when its
stdin does, which is when the worker goes.
"""

from __future__ import annotations

import os
import signal
import struct
from base64 import urlsafe_b64encode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = [
    "ANSWER",
    "ECDSA_FOR_ALG",
    "HEADER_LENGTH",
    "KEY",
    "READY",
    "REFUSED",
    "REQUEST",
    "SIGN",
    "SIGNED",
    "compact_jws",
    "main",
]

REQUEST = struct.Struct(">cHII")
"""A frame's header: its kind (``KEY`` or ``SIGN``), the key's slot, the ``SIGN`` frame's
sequence number (0, 1, 2, ... modulo 2**32; 0 for ``KEY``), the body's length."""
HEADER_LENGTH = struct.Struct(">I")
"""A ``SIGN`` body's first field: how many of the bytes after it are the header."""
ANSWER = struct.Struct(">BII")
"""An answer's header: ``SIGNED`` or ``REFUSED``, the ``SIGN`` frame's sequence number, the
body's length. The worker matches answers to callers by order and checks the number."""
KEY = b"K"
SIGN = b"S"
READY = b"R"
SIGNED = 0
REFUSED = 1

# alg -> (ECDSA with the alg's hash, octets per coordinate), RFC 7518 section 3.4.
ECDSA_FOR_ALG: dict[str, tuple[ec.ECDSA, int]] = {
    "ES256": (ec.ECDSA(hashes.SHA256()), 32),
    "ES384": (ec.ECDSA(hashes.SHA384()), 48),
    "ES512": (ec.ECDSA(hashes.SHA512()), 66),
}

_SlotKey = tuple[ec.EllipticCurvePrivateKey, ec.ECDSA, int]


def main() -> None:
    """Answer frames from stdin on stdout until stdin ends."""
    # Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process
    # group; the worker decides when this ends (it closes our stdin, or kills us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    keys: dict[int, _SlotKey] = {}
    unread = b""
    _write_all(1, READY)
    while chunk := os.read(0, 1 << 16):
        answers, unread = answer_frames(unread + chunk, keys)
        if answers:
            _write_all(1, answers)


def answer_frames(data: bytes, keys: dict[int, _SlotKey]) -> tuple[bytes, bytes]:
    """The answers to ``data``'s whole frames, and what is left of a frame not yet whole."""
    answers: list[bytes] = []
    at = 0
    while len(data) - at >= REQUEST.size:
        kind, slot, sequence, length = REQUEST.unpack_from(data, at)
        end = at + REQUEST.size + length
        if end > len(data):
            break
        body = data[at + REQUEST.size : end]
        at = end
        if kind == KEY:
            keys[slot] = _open(body)
        else:
            answers.append(_sign(body, sequence, keys.get(slot)))
    return b"".join(answers), data[at:]


def _open(body: bytes) -> _SlotKey:
    alg, _, der = body.partition(b" ")
    private_key = serialization.load_der_private_key(der, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise SystemExit("signing process: the key is not an EC key")
    algorithm, size = ECDSA_FOR_ALG[alg.decode("ascii")]
    return private_key, algorithm, size


def _sign(body: bytes, sequence: int, key: _SlotKey | None) -> bytes:
    if key is None:
        reason = b"no key in this slot"
        return ANSWER.pack(REFUSED, sequence, len(reason)) + reason
    (length,) = HEADER_LENGTH.unpack_from(body)
    start = HEADER_LENGTH.size
    token = compact_jws(body[start : start + length], body[start + length :], *key)
    return ANSWER.pack(SIGNED, sequence, len(token)) + token


def compact_jws(
    header: bytes,
    payload: bytes,
    private_key: ec.EllipticCurvePrivateKey,
    ecdsa: ec.ECDSA,
    size: int,
) -> bytes:
    """``header.payload.signature`` (RFC 7515 section 7.1) from the header's JSON and the payload.

    The signature is ECDSA's DER turned into the fixed-size ``r || s`` of RFC 7518
    section 3.4, ``size`` octets each.
    """
    signing_input = _b64(header) + b"." + _b64(payload)
    r, s = decode_dss_signature(private_key.sign(signing_input, ecdsa))
    return signing_input + b"." + _b64(r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def _b64(data: bytes) -> bytes:
    return urlsafe_b64encode(data).rstrip(b"=")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    main()
