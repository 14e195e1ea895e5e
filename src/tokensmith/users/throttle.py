"""Login throttling: after too many failures a username is locked for a while.

Counters live in the grant store (not process memory) so every process and
every restart sees the same count; there is no unbounded guessing.
"""

from __future__ import annotations

import time

from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.stores.protocols import GrantStore


class LoginThrottle:
    def __init__(self, grants: GrantStore, max_failures: int, lockout_seconds: int):
        self._grants = grants
        self._max_failures = max_failures
        self._lockout_seconds = lockout_seconds

    def _key(self, username: str) -> str:
        return handle_key("login-failures:" + username.casefold())

    async def locked_for(self, username: str) -> int:
        """Seconds until ``username`` may try again; 0 when it may now."""
        now = int(time.time())
        record = await self._grants.find(self._key(username), GrantKind.LOGIN_FAILURES)
        if record is None or not record.is_live(now):
            return 0
        locked_until = int(record.data.get("locked_until", 0))
        return max(0, locked_until - now)

    async def record_failure(self, username: str) -> None:
        now = int(time.time())
        key = self._key(username)
        record = await self._grants.find(key, GrantKind.LOGIN_FAILURES)
        count = 1
        if record is not None and record.is_live(now):
            count = int(record.data.get("count", 0)) + 1
        locked_until = now + self._lockout_seconds if count >= self._max_failures else 0
        await self._grants.replace(
            StoredGrant(
                key=key,
                kind=GrantKind.LOGIN_FAILURES,
                client_id=None,
                subject_id=None,
                created_at=now,
                expires_at=now + self._lockout_seconds,
                data={"count": count, "locked_until": locked_until},
            )
        )

    async def record_success(self, username: str) -> None:
        await self._grants.remove(self._key(username))
