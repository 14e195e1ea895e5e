"""Stored CIBA requests: one grant record per auth_req_id, decided by conditional updates.

The record is a ``GrantKind.BACKCHANNEL_REQUEST`` keyed by the SHA-256 of the
auth_req_id (the value itself is not stored). Its state lives in columns, so
each transition is one conditional UPDATE that only an undecided request
passes, and a decision can never be overwritten by a late poll:

=========  ==========================================================
pending    family_id, revoked_at and consumed_at all NULL
approved   family_id set (the family of the tokens it will yield)
denied     revoked_at set
redeemed   consumed_at set (``GrantStore.consume``: exactly once)
=========  ==========================================================

Ping mode needs the auth_req_id and the client_notification_token again when
the user decides; both are kept encrypted with the key-encryption key, never
in clear, and only for ping requests.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.ciba.records import BackchannelRequest
from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.models.client import Client
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant, handle_key
from tokensmith.models.user import User
from tokensmith.stores.protocols import GrantStore
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.tables import grants

KIND: Final = GrantKind.BACKCHANNEL_REQUEST
MAX_LISTED: Final = 50
"""At most this many pending requests are shown to one user."""


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REDEEMED = "redeemed"


def status_of(grant: StoredGrant) -> RequestStatus:
    if grant.consumed_at is not None:
        return RequestStatus.REDEEMED
    if grant.revoked_at is not None:
        return RequestStatus.DENIED
    if grant.family_id is not None:
        return RequestStatus.APPROVED
    return RequestStatus.PENDING


@dataclass(slots=True, frozen=True)
class PingTarget:
    """Where and with what to send the ping callback of one decided request."""

    endpoint: str
    auth_req_id: str
    client_notification_token: str


@dataclass(slots=True, frozen=True)
class NewRequest:
    """What the backchannel endpoint validated, ready to be stored."""

    client: Client
    user: User
    scopes: list[str]
    resources: list[str]
    binding_message: str | None
    lifetime: int
    interval: int
    client_notification_token: str | None = None
    """Set for ping clients only."""


class BackchannelRequestStore:
    """CIBA requests in the SQL grants table, whatever other grant store is configured.

    Listing and deciding query the table itself, so the records must be there:
    ``grants`` is the SQL grant store over the same engine (replaceable in tests).
    """

    def __init__(
        self, engine: AsyncEngine, encryptor: KeyEncryptor, grants: GrantStore | None = None
    ):
        self._engine = engine
        self._encryptor = encryptor
        self._grants = grants if grants is not None else SqlGrantStore(engine)

    async def create(self, new: NewRequest) -> tuple[str, BackchannelRequest]:
        """Store a pending request; return its auth_req_id and the user's view of it."""
        # CIBA section 7.3: auth_req_id "MUST contain sufficient entropy (a
        # minimum of 128 bits while 160 bits is recommended)" and use only
        # base64url characters; 256 random bits, base64url.
        auth_req_id = secrets.token_urlsafe(32)
        now = int(time.time())
        grant = StoredGrant(
            key=handle_key(auth_req_id),
            kind=KIND,
            client_id=new.client.client_id,
            subject_id=new.user.subject_id,
            created_at=now,
            expires_at=now + new.lifetime,
            data={
                "request_id": secrets.token_urlsafe(16),
                "client_name": new.client.client_name or new.client.client_id,
                "username": new.user.username,
                "scopes": new.scopes,
                "resources": new.resources,
                "binding_message": new.binding_message,
                "interval": new.interval,
                "last_polled_at": None,
                "ping": self._ping_data(new, auth_req_id),
            },
        )
        await self._grants.save(grant)
        return auth_req_id, BackchannelRequest.from_grant(grant)

    async def find(self, auth_req_id: str) -> StoredGrant | None:
        return await self._grants.find(handle_key(auth_req_id), KIND)

    async def remove(self, auth_req_id: str) -> None:
        await self._grants.remove(handle_key(auth_req_id))

    async def pending_for(self, subject_id: str) -> list[StoredGrant]:
        """The user's undecided, unexpired requests, oldest first."""
        query = (
            select(grants.c.key)
            .where(and_(grants.c.subject_id == subject_id, *_undecided(int(time.time()))))
            .order_by(grants.c.created_at)
            .limit(MAX_LISTED)
        )
        async with self._engine.connect() as connection:
            keys = (await connection.execute(query)).scalars().all()
        found = [await self._grants.find(key, KIND) for key in keys]
        return [grant for grant in found if grant is not None]

    async def find_pending(self, subject_id: str, request_id: str) -> StoredGrant | None:
        """One of the user's pending requests, by the id the user was shown."""
        for grant in await self.pending_for(subject_id):
            if hmac.compare_digest(grant.data["request_id"], request_id):
                return grant
        return None

    async def approve(self, grant: StoredGrant) -> StoredGrant | None:
        """Record the user's approval; None if the request was decided or expired meanwhile."""
        now = int(time.time())
        family_id = uuid.uuid4().hex
        data = {**grant.data, "approved_at": now}
        if not await self._update_undecided(grant.key, now, family_id=family_id, data=data):
            return None
        return await self._grants.find(grant.key, KIND)

    async def deny(self, grant: StoredGrant) -> StoredGrant | None:
        now = int(time.time())
        if not await self._update_undecided(grant.key, now, revoked_at=now):
            return None
        return await self._grants.find(grant.key, KIND)

    async def record_poll(self, grant: StoredGrant, polled_at: float, interval: int) -> None:
        """Remember a poll of a pending request (and the interval it must now keep)."""
        data = {**grant.data, "last_polled_at": polled_at, "interval": interval}
        await self._update_undecided(grant.key, int(polled_at), data=data)

    async def redeem(self, grant: StoredGrant) -> StoredGrant | None:
        """Use an approved request; None if it was used before (only one caller wins)."""
        outcome, redeemed = await self._grants.consume(grant.key, KIND, int(time.time()))
        return redeemed if outcome is ConsumeOutcome.CONSUMED else None

    @staticmethod
    def wants_ping(grant: StoredGrant) -> bool:
        return grant.data.get("ping") is not None

    def ping_target(self, grant: StoredGrant) -> PingTarget | None:
        """The ping callback for a decided request of a ping client; None for poll clients."""
        ping = grant.data.get("ping")
        if ping is None:
            return None
        secret = orjson.loads(self._encryptor.decrypt(ping["sealed"].encode("ascii")))
        return PingTarget(ping["endpoint"], secret["auth_req_id"], secret["token"])

    def _ping_data(self, new: NewRequest, auth_req_id: str) -> dict[str, Any] | None:
        endpoint = new.client.backchannel_client_notification_endpoint
        if new.client_notification_token is None or endpoint is None:
            return None
        secret = orjson.dumps({"auth_req_id": auth_req_id, "token": new.client_notification_token})
        return {"endpoint": endpoint, "sealed": self._encryptor.encrypt(secret).decode("ascii")}

    async def _update_undecided(self, key: str, now: int, **values: Any) -> bool:
        statement = (
            update(grants).where(and_(grants.c.key == key, *_undecided(now))).values(**values)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount) == 1


def _undecided(now: int) -> tuple[Any, ...]:
    return (
        grants.c.kind == KIND.value,
        grants.c.family_id.is_(None),
        grants.c.revoked_at.is_(None),
        grants.c.consumed_at.is_(None),
        grants.c.expires_at > now,
    )
