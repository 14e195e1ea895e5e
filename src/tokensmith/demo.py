"""The embedded demo: a client and an API so a first token is one curl away.

Demo mode applies only while the configuration declares no clients and no
API resources; the demo client is stored (hashed) on first start and its
secret shown once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokensmith.clientauth.secrets import generate_client_secret, hash_client_secret
from tokensmith.models.client import Client
from tokensmith.models.resource import ApiResource
from tokensmith.settings import Settings
from tokensmith.stores.sql.clients import SqlClientStore

DEMO_CLIENT_ID = "demo-client"
DEMO_RESOURCE = ApiResource(
    audience="urn:tokensmith:demo-api",
    name="Demo API",
    scopes=frozenset({"demo:read", "demo:write"}),
)


@dataclass(slots=True, frozen=True)
class DemoCredentials:
    client_id: str
    client_secret: str


def is_demo_mode(settings: Settings) -> bool:
    return settings.create_demo_client and not settings.clients and not settings.api_resources


async def create_demo_client(store: SqlClientStore) -> DemoCredentials | None:
    """Store the demo client if the database has no client yet; its secret, once."""
    if await store.count() > 0:
        return None
    secret = generate_client_secret()
    await store.add_client(
        Client(
            client_id=DEMO_CLIENT_ID,
            client_name="tokensmith demo client",
            token_endpoint_auth_method="client_secret_basic",
            grant_types=frozenset({"client_credentials"}),
            scopes=DEMO_RESOURCE.scopes,
            secret_hashes=(hash_client_secret(secret),),
        )
    )
    return DemoCredentials(DEMO_CLIENT_ID, secret)
