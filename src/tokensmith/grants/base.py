"""The GrantValidator contract and the registry the token endpoint dispatches on.

Built-in and extension grants register the same way; the registry is the one
source for both dispatch and discovery's ``grant_types_supported``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Protocol

from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest


class GrantValidator(Protocol):
    """Validates one grant_type's token requests."""

    grant_type: ClassVar[str]
    parameters: ClassVar[frozenset[str]]
    """The form fields this grant reads; the endpoint strips all others."""

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest: ...


ExtensionGrantValidator = GrantValidator
"""An extension grant (RFC 6749 section 4.5) is a GrantValidator for its grant_type URI,
registered with ``Services(extension_grants=...)`` or ``extension_grants`` in the config."""


class GrantRegistry:
    def __init__(self, validators: Iterable[GrantValidator] = ()):
        self._validators: dict[str, GrantValidator] = {}
        for validator in validators:
            self.register(validator)

    def register(self, validator: GrantValidator) -> None:
        if validator.grant_type in self._validators:
            raise ValueError(f"grant_type {validator.grant_type!r} is registered twice")
        self._validators[validator.grant_type] = validator

    def get(self, grant_type: str) -> GrantValidator | None:
        return self._validators.get(grant_type)

    @property
    def grant_types(self) -> list[str]:
        return sorted(self._validators)
