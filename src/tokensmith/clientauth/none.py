"""none: a public client identifies itself by client_id alone (RFC 6749 section 2.1).

Only clients registered with ``token_endpoint_auth_method = "none"`` pass;
they prove possession of their authorization code with PKCE instead.
"""

from __future__ import annotations

from typing import ClassVar

from starlette.datastructures import Headers

from tokensmith._types import FormData
from tokensmith.clientauth.base import ClientCredentials
from tokensmith.models.client import Client

_CREDENTIAL_FIELDS = ("client_secret", "client_assertion", "client_assertion_type")
"""Form fields that mean some other method is in use, so the request is not ``none``."""


class NoClientAuthentication:
    method: ClassVar[str] = "none"
    form_fields: ClassVar[frozenset[str]] = frozenset({"client_id", *_CREDENTIAL_FIELDS})
    header_fields: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def extract(self, headers: Headers, form: FormData) -> ClientCredentials | None:
        if "authorization" in headers or "client_id" not in form:
            return None
        if any(name in form for name in _CREDENTIAL_FIELDS):
            return None
        return ClientCredentials(self.method, form["client_id"])

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        """Nothing to check: the registry has already seen that the client is public."""
