"""client_secret_post: the client id and secret in the form body (RFC 6749 section 2.3.1)."""

from __future__ import annotations

from typing import ClassVar

from starlette.datastructures import Headers

from tokensmith._types import FormData
from tokensmith.clientauth.base import ClientCredentials
from tokensmith.clientauth.secrets import check_presented_secret
from tokensmith.models.client import Client


class ClientSecretPost:
    method: ClassVar[str] = "client_secret_post"
    form_fields: ClassVar[frozenset[str]] = frozenset({"client_id", "client_secret"})
    header_fields: ClassVar[frozenset[str]] = frozenset()
    reusable_verification: ClassVar[bool] = True

    def extract(self, headers: Headers, form: FormData) -> ClientCredentials | None:
        secret = form.get("client_secret")
        if secret is None:
            return None
        return ClientCredentials(self.method, form.get("client_id", ""), secret)

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        await check_presented_secret(credentials.secret, client)
