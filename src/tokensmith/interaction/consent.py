"""Remembered consent: which scopes a user granted to a client."""

from __future__ import annotations

import time

from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.stores.protocols import GrantStore

CONSENT_LIFETIME = 365 * 24 * 3600


class ConsentStore:
    def __init__(self, grants: GrantStore):
        self._grants = grants

    def _key(self, subject_id: str, client_id: str) -> str:
        return handle_key(f"consent:{subject_id}:{client_id}")

    async def granted_scopes(self, subject_id: str, client_id: str) -> set[str]:
        record = await self._grants.find(self._key(subject_id, client_id), GrantKind.CONSENT)
        if record is None or not record.is_live(int(time.time())):
            return set()
        return set(record.data.get("scopes", []))

    async def remember(self, subject_id: str, client_id: str, scopes: list[str]) -> None:
        now = int(time.time())
        known = await self.granted_scopes(subject_id, client_id)
        await self._grants.replace(
            StoredGrant(
                key=self._key(subject_id, client_id),
                kind=GrantKind.CONSENT,
                client_id=client_id,
                subject_id=subject_id,
                created_at=now,
                expires_at=now + CONSENT_LIFETIME,
                data={"scopes": sorted(known | set(scopes))},
            )
        )
