"""The ``context`` a custom-claims hook receives, in Logto's shape.

Logto scripts read ``context.user.roles``, ``context.user.customData``,
``context.application`` and ``context.grant``; building the same shape here
lets such a script run unchanged, and every hook source sees the same JSON.
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
    context: JSONObject = {
        "application": application_context(request.client),
        "grant": {
            "type": request.grant_type,
            "scopes": list(request.scopes),
            "resource": [resource.audience for resource in request.resources],
        },
    }
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
