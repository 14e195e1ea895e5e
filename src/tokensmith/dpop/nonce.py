"""Server-provided DPoP nonces (RFC 9449 section 8) that need no shared state.

A nonce is an HMAC, under a server secret, of the current time step. Every
process holding the same secret computes the same nonce for the same step,
so a nonce handed out by one process is accepted by all of them without a
database round trip or a cache. The previous and next steps are accepted too,
so a nonce stays good for at least one full step and small clock differences
between hosts do no harm. Freshness comes from the time step; single use of a
proof still comes from its ``jti``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

NONCE_STEP_SECONDS = 120
"""A nonce changes every step and is accepted for one step either side."""

Clock = Callable[[], float]


class DpopNonces:
    def __init__(self, secret: Callable[[], bytes], clock: Clock = time.time):
        # The secret is read on first use: at construction the data folder's
        # key material may not exist yet (it is created at start-up).
        self._secret_source = secret
        self._secret: bytes | None = None
        self._clock = clock

    def current(self) -> str:
        """The nonce to hand out now (in a ``DPoP-Nonce`` header)."""
        return self._for_step(self._step())

    def is_valid(self, nonce: str) -> bool:
        step = self._step()
        return any(
            hmac.compare_digest(nonce.encode(), self._for_step(s).encode())
            for s in (step - 1, step, step + 1)
        )

    def _step(self) -> int:
        return int(self._clock()) // NONCE_STEP_SECONDS

    def _for_step(self, step: int) -> str:
        if self._secret is None:
            self._secret = self._secret_source()
        mac = hmac.new(self._secret, f"dpop-nonce:{step}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode("ascii")
