"""Services: which class serves each pipeline stage.

The Python counterpart of registering a type in a DI service collection.
Fields left None are filled from the config file's ``[hooks]`` import
strings, then from the defaults, so Python beats the file and the file
beats the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from tokensmith._imports import import_string
from tokensmith.ciba.notifier import DefaultBackchannelUserNotifier
from tokensmith.clientauth import DEFAULT_AUTHENTICATORS, ClientAuthenticator
from tokensmith.grants import DEFAULT_GRANTS, GrantValidator
from tokensmith.response_generator import TokenResponseGenerator
from tokensmith.settings import ConfigError, Settings
from tokensmith.tokens.claims_service import DefaultClaimsService
from tokensmith.tokens.creation import DefaultTokenCreationService
from tokensmith.tokens.profile_service import DefaultProfileService
from tokensmith.tokens.refresh_token_service import DefaultRefreshTokenService
from tokensmith.tokens.token_service import TokenService
from tokensmith.users.authenticator import StoredUserAuthenticator


@dataclass(frozen=True, slots=True)
class Services:
    token_creation: type[Any] | None = None
    token_response_generator: type[Any] | None = None
    token_service: type[Any] | None = None
    claims_service: type[Any] | None = None
    profile_service: type[Any] | None = None
    refresh_token_service: type[Any] | None = None
    user_authenticator: type[Any] | None = None
    backchannel_user_notifier: type[Any] | None = None
    grants: tuple[type[GrantValidator], ...] = DEFAULT_GRANTS
    extension_grants: tuple[type[GrantValidator], ...] = ()
    client_authenticators: tuple[type[ClientAuthenticator], ...] = DEFAULT_AUTHENTICATORS

    def resolve(self, settings: Settings) -> Services:
        """Every stage filled in: Python first, then ``[hooks]``, then the defaults."""
        chosen: dict[str, Any] = {}
        for name, default in _DEFAULT_STAGES.items():  # hooks.custom_claims is no stage
            explicit = getattr(self, name)
            hook = getattr(settings.hooks, name, None)
            if explicit is not None:
                chosen[name] = explicit
            elif hook is not None:
                chosen[name] = _stage_class(hook, name)
            else:
                chosen[name] = default
        return replace(self, **chosen)

    def stage(self, name: str) -> type[Any]:
        value = getattr(self, name)
        if value is None:
            raise RuntimeError("call resolve() before asking for a stage")
        return value  # type: ignore[no-any-return]


_DEFAULT_STAGES: dict[str, type[Any]] = {
    "token_creation": DefaultTokenCreationService,
    "token_response_generator": TokenResponseGenerator,
    "token_service": TokenService,
    "claims_service": DefaultClaimsService,
    "profile_service": DefaultProfileService,
    "refresh_token_service": DefaultRefreshTokenService,
    "user_authenticator": StoredUserAuthenticator,
    "backchannel_user_notifier": DefaultBackchannelUserNotifier,
}
assert set(_DEFAULT_STAGES) <= {field.name for field in fields(Services)}


def _stage_class(value: str, name: str) -> type[Any]:
    key = f"hooks.{name}"
    target = import_string(value, key=key)
    if not isinstance(target, type):
        raise ConfigError(f"{key}: {value!r} is not a class")
    return target
