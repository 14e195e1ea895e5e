"""Device authorizations (RFC 8628): codes, their state, and the user's decision.

The device_code (256 random bits) and the user_code are stored only as
hashes. The user code is eight letters from an alphabet without vowels or
look-alikes, shown as ``XXXX-XXXX`` and accepted in any case, with or
without the dash (RFC 8628 section 6.1).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore

# 20 consonants: no vowels (no words), no look-alikes such as 0/O or 1/I.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8

PENDING, APPROVED, DENIED = "pending", "approved", "denied"


def normalize_user_code(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch in USER_CODE_ALPHABET)


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@dataclass(slots=True, frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    expires_in: int
    interval: int


class DeviceAuthorizations:
    def __init__(self, settings: Settings, grants: GrantStore):
        self._settings = settings
        self._grants = grants

    async def start(
        self, client_id: str, scopes: list[str], resources: list[str]
    ) -> DeviceAuthorization:
        now = int(time.time())
        lifetime = self._settings.device_code_lifetime
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        device_key = handle_key(device_code)
        record = {
            "scopes": scopes,
            "resources": resources,
            "status": PENDING,
            "interval": self._settings.device_code_interval,
            "user_code_key": _user_code_key(user_code),
        }
        await self._grants.save(
            StoredGrant(
                device_key, GrantKind.DEVICE_CODE, client_id, None, now, now + lifetime, record
            )
        )
        await self._grants.save(
            StoredGrant(
                _user_code_key(user_code),
                GrantKind.DEVICE_CODE,
                client_id,
                None,
                now,
                now + lifetime,
                {"device_key": device_key},
            )
        )
        return DeviceAuthorization(
            device_code, format_user_code(user_code), lifetime, self._settings.device_code_interval
        )

    async def find_by_user_code(self, user_code: str) -> StoredGrant | None:
        """The live, still undecided authorization a user code stands for."""
        code = normalize_user_code(user_code)
        if len(code) != USER_CODE_LENGTH:
            return None
        now = int(time.time())
        pointer = await self._grants.find(_user_code_key(code), GrantKind.DEVICE_CODE)
        if pointer is None or not pointer.is_live(now):
            return None
        record = await self._grants.find(pointer.data["device_key"], GrantKind.DEVICE_CODE)
        if record is None or not record.is_live(now) or record.consumed_at is not None:
            return None
        return record if record.data["status"] == PENDING else None

    async def decide(
        self, record: StoredGrant, approved: bool, subject_id: str, auth_time: int, sid: str
    ) -> bool:
        """Record the user's answer; the user code stops working either way."""
        data = {**record.data, "status": APPROVED if approved else DENIED}
        if approved:
            data.update(subject_id=subject_id, sid=sid, auth_time=auth_time)
        changed = await self._grants.update_data(record.key, GrantKind.DEVICE_CODE, data)
        await self._grants.remove(record.data["user_code_key"])
        return changed


def _user_code_key(code: str) -> str:
    return handle_key("device-user-code:" + code)
