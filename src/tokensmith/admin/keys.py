"""Signing key administration over ``keys.rotation``: list, rotate, retire.

Changes are stored at once; the process that made one reloads its keys
immediately, the others at their next reload (``key_reload_seconds``).
"""

from __future__ import annotations

from typing import Any

from tokensmith.admin.errors import Conflict, NotFound
from tokensmith.keys.lifecycle import KeyState
from tokensmith.keys.manager import KeyManager
from tokensmith.keys.rotation import KeyLifecycleError


def key_as_json(state: KeyState) -> dict[str, Any]:
    return {
        "kid": state.kid,
        "alg": state.algorithm,
        "status": state.status,
        "created_at": state.created_at,
        "activates_at": state.activates_at,
        "retired_at": state.retired_at,
        "remove_after": state.remove_after,
    }


class KeyAdmin:
    def __init__(self, keys: KeyManager):
        self._keys = keys

    async def list_keys(self) -> list[KeyState]:
        return await self._keys.rotation.states()

    async def rotate(self, *, immediately: bool) -> KeyState:
        try:
            key = await self._keys.rotation.rotate(immediately=immediately)
        except KeyLifecycleError as exc:
            raise Conflict(str(exc)) from None
        await self._keys.load()
        return await self._state(key.kid)

    async def retire(self, kid: str) -> KeyState:
        states = await self._keys.rotation.states()
        if all(state.kid != kid for state in states):
            raise NotFound(f"no signing key has kid {kid!r}")
        try:
            state = await self._keys.rotation.retire(kid)
        except KeyLifecycleError as exc:
            raise Conflict(str(exc)) from None
        await self._keys.load()
        return state

    async def _state(self, kid: str) -> KeyState:
        return next(state for state in await self._keys.rotation.states() if state.kid == kid)
