"""Narrow storage protocols; each consumer names only the one it uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tokensmith.models.client import Client
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.models.resource import ApiResource
from tokensmith.models.user import User


class ClientStore(Protocol):
    async def find_client_by_id(self, client_id: str) -> Client | None: ...


class ResourceStore(Protocol):
    """The API resources (RFC 8707) tokens may be for, and their scopes.

    A store may also offer ``async def generation(self) -> object``: an object
    that stays the same (``is``) for as long as every answer of the store
    does. ``ClientCredentialsGrant`` then remembers its narrowed scopes and
    audiences per client and request, and works them out again when it changes.
    """

    async def find_api_resources_by_scope(self, scopes: Iterable[str]) -> list[ApiResource]: ...

    async def find_api_resource(self, audience: str) -> ApiResource | None: ...

    async def all_scopes(self) -> list[str]: ...


@dataclass(slots=True, frozen=True)
class StoredKey:
    """A signing key as stored: the private key stays encrypted until loaded.

    Times are Unix seconds. ``activates_at`` None (a row from before rotation)
    means it signed from ``created_at``; ``retired_at`` and ``remove_after`` are
    written once the key stops signing. ``succeeds`` names the key that was
    newest when this one was added ("" for the first): being unique, it lets
    only one of several racing processes add the next key.
    """

    kid: str
    algorithm: str
    encrypted_private_key: bytes
    created_at: int
    activates_at: int | None = None
    retired_at: int | None = None
    remove_after: int | None = None
    succeeds: str | None = None


class KeyStore(Protocol):
    async def list_keys(self) -> list[StoredKey]: ...

    async def add_key(self, key: StoredKey) -> bool:
        """False, adding nothing, when a stored key already ``succeeds`` the same key."""
        ...

    async def retire_key(
        self, kid: str, retired_at: int, remove_after: int, successor: str | None = None
    ) -> bool:
        """Record that ``kid`` stops signing at ``retired_at`` (unless it stopped earlier).

        ``successor``, a key not yet signing, starts signing at ``retired_at`` in
        the same transaction, so no moment is left without a signing key.
        """
        ...

    async def longest_client_token_lifetime(self) -> int | None:
        """The longest access_token_lifetime a stored client has, if any sets one."""
        ...


class UserStore(Protocol):
    async def find_user_by_subject(self, subject_id: str) -> User | None: ...

    async def find_user_by_username(self, username: str) -> User | None: ...


class DuplicateGrant(Exception):
    """``GrantStore.save`` met a record with the same key.

    Replay protection (a JWT id seen twice) relies on this, so every grant
    store raises this one type whatever its backend reports.
    """


class GrantStore(Protocol):
    async def save(self, grant: StoredGrant) -> None:
        """Insert a new record; raise DuplicateGrant if the key is taken."""
        ...

    async def replace(self, grant: StoredGrant) -> None: ...

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None: ...

    async def consume(
        self, key: str, kind: GrantKind, now: int
    ) -> tuple[ConsumeOutcome, StoredGrant | None]: ...

    async def update_data(self, key: str, kind: GrantKind, data: dict[str, Any]) -> bool: ...

    async def revoke_family(self, family_id: str, now: int) -> int: ...

    async def revoke(self, key: str, now: int) -> None: ...

    async def remove(self, key: str) -> None: ...
