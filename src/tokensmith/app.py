"""create_app: the composition root.

Everything the server is made of is listed here, in pipeline order: stores,
keys, the stages chosen by ``Services``, the registries, the routes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from tokensmith.audit import flush_audit_log
from tokensmith.ciba.hints import UserHints
from tokensmith.ciba.ping import PingDelivery
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.composition import compose, start, stop
from tokensmith.direct_dispatch import DirectDispatchApp
from tokensmith.dpop import DpopResourceGuard, DpopTokenBinding, dpop_proofs
from tokensmith.endpoints._rendering import (
    DATABASE_ERROR_HANDLERS,
    handle_http_exception,
    handle_oauth_error,
    handle_unexpected,
)
from tokensmith.endpoints.admin.auth import AdminGuard
from tokensmith.endpoints.admin.routes import admin_routes
from tokensmith.endpoints.authorization import AuthorizationEndpoint
from tokensmith.endpoints.backchannel_authentication import BackchannelAuthenticationEndpoint
from tokensmith.endpoints.ciba_approvals import CibaApprovals
from tokensmith.endpoints.consent import ConsentEndpoint
from tokensmith.endpoints.device_authorization import DeviceAuthorizationEndpoint
from tokensmith.endpoints.device_verification import DeviceVerificationEndpoint
from tokensmith.endpoints.discovery import DiscoveryEndpoint
from tokensmith.endpoints.end_session import EndSessionEndpoint
from tokensmith.endpoints.health import HealthEndpoints
from tokensmith.endpoints.introspection import IntrospectionEndpoint
from tokensmith.endpoints.jwks import JwksEndpoint
from tokensmith.endpoints.login import LoginEndpoint
from tokensmith.endpoints.openapi import OpenApiEndpoint
from tokensmith.endpoints.pushed_authorization import PushedAuthorizationEndpoint
from tokensmith.endpoints.revocation import RevocationEndpoint
from tokensmith.endpoints.token import TokenEndpoint
from tokensmith.endpoints.userinfo import UserinfoEndpoint
from tokensmith.errors import OAuthError
from tokensmith.grants.base import GrantRegistry
from tokensmith.heap import freeze_startup_heap, thaw_startup_heap
from tokensmith.interaction.consent import ConsentStore
from tokensmith.interaction.device import DeviceAuthorizations
from tokensmith.interaction.flow import AuthorizationFlow
from tokensmith.interaction.pushed import PushedRequests
from tokensmith.interaction.sessions import SessionManager
from tokensmith.keys.manager import KeyManager
from tokensmith.metrics import TokenMetrics
from tokensmith.ratelimit.routes import limit_routes
from tokensmith.routing import ExactPathRouter
from tokensmith.services import Services
from tokensmith.settings import Settings
from tokensmith.tokens.validation import AccessTokenValidator

CONFIG_FILE_VARIABLE = "TOKENSMITH_CONFIG_FILE"
"""Where worker processes find the config file that ``tokensmith serve --workers`` read."""


def app_from_environment() -> Starlette:
    """The app factory uvicorn calls in each worker process of ``serve --workers N``."""
    config = os.environ.get(CONFIG_FILE_VARIABLE)
    return create_app(Settings.load(Path(config) if config else None), freeze_heap=True)


def create_app(
    settings: Settings | None = None, services: Services | None = None, *, freeze_heap: bool = False
) -> Starlette:
    """A ready-to-serve ASGI app; raises ConfigError when the settings cannot work.

    ``freeze_heap``: keep the garbage collector off what start-up left alive
    (``heap.py``); for a process that only serves this app.
    """
    settings = settings if settings is not None else Settings.load()
    components = compose(settings, services)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await start(components)
        if freeze_heap:
            freeze_startup_heap()
        yield
        if freeze_heap:
            thaw_startup_heap()
        try:
            await stop(components)
        finally:
            flush_audit_log()

    app = DirectDispatchApp(
        lifespan=lifespan,
        exception_handlers={
            OAuthError: handle_oauth_error,
            HTTPException: handle_http_exception,
            **DATABASE_ERROR_HANDLERS,
            Exception: handle_unexpected,
        },
    )
    # Set before the first request builds the middleware stack around it.
    app.router = ExactPathRouter(
        limit_routes(
            _routes(settings, components), settings, components["redis"], components["engine"]
        ),
        lifespan=lifespan,
    )
    return app


def _routes(settings: Settings, components: dict[str, Any]) -> list[Route]:
    issuer = settings.issuer_url
    grants: GrantRegistry = components["grant_registry"]
    client_authentication: ClientAuthenticatorRegistry = components["client_authentication"]
    keys: KeyManager = components["keys"]
    metrics = TokenMetrics()
    sessions = SessionManager(settings, components["grants"], components["users"])
    consents = ConsentStore(components["grants"])
    pushed_requests = PushedRequests(components["grants"], settings.par_lifetime)
    authorization = AuthorizationEndpoint(
        issuer=issuer,
        clients=components["clients"],
        resources=components["resources"],
        sessions=sessions,
        flow=AuthorizationFlow(settings, components["grants"], consents),
        max_request_bytes=settings.max_request_bytes,
        pushed_requests=pushed_requests,
        require_pushed_authorization_requests=settings.require_pushed_authorization_requests,
    )
    pushed_authorization = PushedAuthorizationEndpoint(
        client_authentication, components["resources"], pushed_requests, settings.max_request_bytes
    )
    login = LoginEndpoint(
        authorization,
        components["user_authenticator"],
        components["login_throttle"],
        components["users"],
    )
    consent = ConsentEndpoint(authorization, consents)
    logout = EndSessionEndpoint(issuer, components["clients"], sessions, keys)
    validator = AccessTokenValidator(issuer, keys, components["opaque_tokens"])
    dpop = dpop_proofs(settings, components["grants"])
    userinfo = UserinfoEndpoint(
        audience=components["token_service"].userinfo_audience,
        validator=validator,
        users=components["users"],
        profile_service=components["profile_service"],
        dpop=DpopResourceGuard(dpop, f"{issuer}/userinfo"),
    )
    discovery = DiscoveryEndpoint(
        issuer=issuer,
        grants=grants,
        client_authentication=client_authentication,
        resources=components["resources"],
        algorithms=["ES256"],
        dpop_algorithms=dpop.algorithms,
        require_pushed_authorization_requests=settings.require_pushed_authorization_requests,
    )
    token = TokenEndpoint(
        grants=grants,
        client_authentication=client_authentication,
        response_generator=components["response_generator"],
        max_request_bytes=settings.max_request_bytes,
        metrics=metrics,
        dpop=DpopTokenBinding(dpop, f"{issuer}/token"),
    )
    introspection = IntrospectionEndpoint(
        issuer=issuer,
        client_authentication=client_authentication,
        validator=validator,
        grants=components["grants"],
        resources=components["resources"],
        keys=keys,
        max_request_bytes=settings.max_request_bytes,
    )
    revocation = RevocationEndpoint(
        client_authentication, components["grants"], settings.max_request_bytes
    )
    devices = DeviceAuthorizations(settings, components["grants"])
    device_authorization = DeviceAuthorizationEndpoint(
        issuer,
        client_authentication,
        components["resources"],
        devices,
        settings.max_request_bytes,
    )
    device_verification = DeviceVerificationEndpoint(
        components["clients"],
        devices,
        sessions,
        components["user_authenticator"],
        components["login_throttle"],
        components["users"],
    )
    backchannel = BackchannelAuthenticationEndpoint(
        settings,
        client_authentication,
        components["resources"],
        UserHints(
            issuer,
            keys,
            components["users"],
            components["profile_service"],
            components["trusted_issuers"],
        ),
        components["backchannel_requests"],
        components["backchannel_user_notifier"],
    )
    ciba = CibaApprovals(
        sessions,
        components["backchannel_requests"],
        PingDelivery(components["backchannel_requests"], settings.ciba_ping_timeout_seconds),
    )
    ciba_request = "/ciba/requests/{request_id}"
    health = HealthEndpoints(components["engine"])

    # The admin API (endpoints/admin/routes.py) and the OpenAPI document describing it.
    guard = AdminGuard(f"{issuer}/admin", validator)
    openapi = OpenApiEndpoint(settings, grants, client_authentication)
    return [
        *admin_routes(settings, components, guard),
        Route("/openapi.json", openapi.handle, methods=["GET"]),
        Route("/metrics", metrics.handle, methods=["GET"]),
        Route("/healthz", health.live, methods=["GET"]),
        Route("/readyz", health.ready, methods=["GET"]),
        Route("/token", token.handle, methods=["POST"]),
        Route("/device_authorization", device_authorization.handle, methods=["POST"]),
        Route("/device", device_verification.show, methods=["GET"]),
        Route("/device", device_verification.submit, methods=["POST"]),
        Route("/device/confirm", device_verification.confirm, methods=["POST"]),
        Route("/backchannel", backchannel.handle, methods=["POST"]),
        Route("/ciba/pending", ciba.show, methods=["GET"]),
        Route("/ciba/pending", ciba.submit, methods=["POST"]),
        Route("/ciba/requests", ciba.list_requests, methods=["GET"]),
        Route(f"{ciba_request}/approve", ciba.approve, methods=["POST"]),
        Route(f"{ciba_request}/deny", ciba.deny, methods=["POST"]),
        Route("/introspect", introspection.handle, methods=["POST"]),
        Route("/revoke", revocation.handle, methods=["POST"]),
        Route("/authorize", authorization.handle, methods=["GET", "POST"]),
        Route("/par", pushed_authorization.handle, methods=["POST"]),
        Route("/authorize/resume", authorization.resume, methods=["GET"]),
        Route("/login", login.show, methods=["GET"]),
        Route("/login", login.submit, methods=["POST"]),
        Route("/consent", consent.show, methods=["GET"]),
        Route("/consent", consent.submit, methods=["POST"]),
        Route("/logout", logout.show, methods=["GET"]),
        Route("/logout", logout.submit, methods=["POST"]),
        Route("/userinfo", userinfo.handle, methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", discovery.handle, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", discovery.handle, methods=["GET"]),
        Route("/.well-known/jwks.json", JwksEndpoint(keys).handle, methods=["GET"]),
    ]
