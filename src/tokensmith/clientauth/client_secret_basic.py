"""client_secret_basic: HTTP Basic with the client id and secret (RFC 6749 section 2.3.1)."""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar
from urllib.parse import unquote_plus

from starlette.datastructures import Headers

from tokensmith._types import FormData
from tokensmith.clientauth.base import ClientCredentials
from tokensmith.clientauth.secrets import check_presented_secret
from tokensmith.errors import InvalidClient
from tokensmith.models.client import Client


class ClientSecretBasic:
    method: ClassVar[str] = "client_secret_basic"
    form_fields: ClassVar[frozenset[str]] = frozenset()
    header_fields: ClassVar[frozenset[str]] = frozenset({"authorization"})
    reusable_verification: ClassVar[bool] = True

    def extract(self, headers: Headers, form: FormData) -> ClientCredentials | None:
        authorization = headers.get("authorization")
        if authorization is None:
            return None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("unsupported authorization scheme")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClient("malformed Basic credentials") from None
        client_id, colon, secret = decoded.partition(":")
        if not colon or not client_id:
            raise InvalidClient("malformed Basic credentials")
        # RFC 6749 section 2.3.1: the client identifier and password are
        # encoded using application/x-www-form-urlencoded before Basic encoding.
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if "\x00" in client_id or "\x00" in secret:  # as forms: no NUL (_forms.py)
            raise InvalidClient("malformed Basic credentials")
        return ClientCredentials(self.method, client_id, secret)

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        await check_presented_secret(credentials.secret, client)
