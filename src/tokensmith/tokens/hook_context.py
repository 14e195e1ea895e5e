"""The ``context`` a custom-claims hook receives, in Logto's shape.

Logto scripts read ``context.user.roles``, ``context.user.customData``,
``context.application`` and ``context.grant``; building the same shape here
lets such a script run unchanged, and every hook source sees the same JSON.

``context.grant`` holds ``type`` (the grant_type), ``scopes`` (granted) and
``resource`` (the audiences the token is for). For a token exchange (RFC
8693) it also holds ``subject_token``, what the presented subject_token said
once validated, so a hook can tell an exchanged token from a first-hand one
and whose token it was::

    "subject_token": {
        "type": "access_token",        # or refresh_token, id_token, jwt
        "subject": "3f1c...",          # its sub
        "issuer": "https://...",       # this server, or the trusted issuer of a jwt
        "client_id": "web-app",        # the client it was issued to, or null
        "scopes": ["api:read"],        # its scope; null for id_token and jwt
        "audience": ["https://api..."],# its aud; a refresh token's resources
        "act": {"sub": "..."}          # the actors it already records, or null
    }

The actor of this exchange (from actor_token) is not repeated there: it is
the ``act`` claim of the token being built, which the hook receives as
``token``. The subject token string itself is never in the context: the
context is sent to webhooks and scripts, where a live token could be replayed.
Other grants carry no ``subject_token`` key.
"""

from __future__ import annotations

from typing import Any

from tokensmith._types import JSONObject
from tokensmith.models.client import Client
from tokensmith.models.requests import ValidatedTokenRequest
from tokensmith.models.user import User

# OIDC claim names -> Logto's camelCase profile keys.
_PROFILE_KEYS = {
    "family_name": "familyName",
    "given_name": "givenName",
    "middle_name": "middleName",
    "nickname": "nickname",
    "preferred_username": "preferredUsername",
    "profile": "profile",
    "website": "website",
    "gender": "gender",
    "birthdate": "birthdate",
    "zoneinfo": "zoneinfo",
    "locale": "locale",
    "address": "address",
}


def hook_context(request: ValidatedTokenRequest) -> JSONObject:
    grant: JSONObject = {
        "type": request.grant_type,
        "scopes": list(request.scopes),
        "resource": [resource.audience for resource in request.resources],
    }
    if request.subject_token is not None:
        grant["subject_token"] = request.subject_token
    context: JSONObject = {"application": application_context(request.client), "grant": grant}
    if request.user is not None:
        context["user"] = user_context(request.user)
    return context


def user_context(user: User) -> JSONObject:
    profile: dict[str, Any] = user.profile
    return {
        "id": user.subject_id,
        "username": user.username,
        "primaryEmail": user.email,
        "primaryPhone": profile.get("phone_number"),
        "name": profile.get("name"),
        "avatar": profile.get("picture"),
        "customData": dict(user.custom_data),
        "identities": {},
        "profile": {
            logto: profile[oidc] for oidc, logto in _PROFILE_KEYS.items() if oidc in profile
        },
        "roles": [
            {"id": role, "name": role, "description": "", "scopes": []} for role in user.roles
        ],
        "organizations": [],
        "organizationRoles": [],
        "isSuspended": not user.enabled,
        "updatedAt": user.updated_at * 1000,
    }


def application_context(client: Client) -> JSONObject:
    if client.is_public:
        kind = "SPA"
    elif client.grant_types == {"client_credentials"}:
        kind = "MachineToMachine"
    else:
        kind = "Traditional"
    return {
        "id": client.client_id,
        "name": client.client_name or client.client_id,
        "type": kind,
        "customData": dict(client.properties),
    }
