"""password (RFC 6749 section 4.3): off unless enabled, and only for clients allowed it.

RFC 9700 section 2.4: the resource owner password credentials grant "MUST
NOT be used"; it is here for migrations and first-party legacy clients.
"""

from __future__ import annotations

import time
from typing import ClassVar

from tokensmith.errors import InvalidGrant, InvalidRequest
from tokensmith.grants._steps import (
    audiences_for,
    check_client_may_use_grant,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.stores.protocols import ResourceStore
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.authenticator import UserAuthenticator
from tokensmith.users.provisioning import provision_user
from tokensmith.users.throttle import LoginThrottle


class PasswordGrant:
    grant_type: ClassVar[str] = "password"
    parameters: ClassVar[frozenset[str]] = frozenset({"username", "password", "scope"})

    def __init__(
        self,
        resources: ResourceStore,
        user_authenticator: UserAuthenticator,
        login_throttle: LoginThrottle,
        users: SqlUserStore,
    ):
        self._resources = resources
        self._users = users
        self._authenticator = user_authenticator
        self._throttle = login_throttle

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        username = request.parameters.get("username")
        password = request.parameters.get("password")
        if username is None or password is None:
            raise InvalidRequest("username and password are required")
        if await self._throttle.locked_for(username):
            raise InvalidGrant("too many failed attempts; try again later")
        user = await self._authenticator.authenticate(username, password)
        if user is None:
            await self._throttle.record_failure(username)
            raise InvalidGrant("invalid username or password")
        await self._throttle.record_success(username)
        await provision_user(self._users, user)
        requested = parse_scope(request.parameters.get("scope"))
        scopes = await narrow_scopes_to_client(
            requested, client, [], self._resources, identity=True
        )
        resources = await audiences_for(scopes, [], self._resources)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(scopes),
            resources=tuple(resources),
            parameters=request.parameters,
            user=user,
            auth_time=int(time.time()),
        )
