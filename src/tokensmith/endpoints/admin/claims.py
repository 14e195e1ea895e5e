"""Admin API for custom claims: stored scripts (take effect without a restart) and dry runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import admin_actor, audit_event
from tokensmith.endpoints._rendering import json_response
from tokensmith.endpoints.admin._http import json_object
from tokensmith.errors import InvalidRequest, OAuthError, printable
from tokensmith.stores.sql.claim_scripts import HOOK_KINDS, SqlClaimScriptStore
from tokensmith.tokens.custom_claims import CustomClaimsService
from tokensmith.tokens.hook_samples import SAMPLE_CONTEXT, SAMPLE_TOKEN


@dataclass(slots=True, frozen=True)
class ClaimsAdmin:
    scripts: SqlClaimScriptStore
    custom_claims: CustomClaimsService

    async def list_scripts(self, request: Request) -> Response:
        stored = await self.scripts.list_scripts()
        return json_response([{"kind": s.kind, "updated_at": s.updated_at} for s in stored])

    async def get_script(self, request: Request) -> Response:
        stored = await self.scripts.get(_kind(request))
        if stored is None:
            return json_response({"error": "not_found"}, 404)
        return json_response(
            {"kind": stored.kind, "source": stored.source, "updated_at": stored.updated_at}
        )

    async def put_script(self, request: Request) -> Response:
        kind = _kind(request)
        source = (await json_object(request)).get("source")
        if not isinstance(source, str):
            raise InvalidRequest("the body must be a JSON object with a source string")
        try:
            self.custom_claims.script_hook(source)
        except ValueError as exc:
            raise InvalidRequest(_safe(str(exc))) from None
        await self.scripts.set(kind, source)
        audit_event(
            "admin.claims_script.saved",
            "success",
            request=request,
            actor=admin_actor(request),
            kind=kind,
        )
        return Response(status_code=204)

    async def delete_script(self, request: Request) -> Response:
        kind = _kind(request)
        removed = await self.scripts.remove(kind)
        audit_event(
            "admin.claims_script.deleted",
            "success" if removed else "not_found",
            request=request,
            actor=admin_actor(request),
            kind=kind,
        )
        if not removed:
            return json_response({"error": "not_found"}, 404)
        return Response(status_code=204)

    async def test(self, request: Request) -> Response:
        """Dry-run a script (or the hook set for a kind) against a sample or given context."""
        body = await json_object(request)
        script, kind = body.get("script"), body.get("kind")
        if (script is None) == (kind is None):
            raise InvalidRequest("give exactly one of script, kind")
        token = body.get("token", SAMPLE_TOKEN)
        context = body.get("context", SAMPLE_CONTEXT)
        if not isinstance(token, dict) or not isinstance(context, dict):
            raise InvalidRequest("token and context must be JSON objects")
        if isinstance(script, str):
            try:
                found: Any = ("script", self.custom_claims.script_hook(script))
            except ValueError as exc:
                raise InvalidRequest(_safe(str(exc))) from None
        elif kind in HOOK_KINDS:
            found = await self.custom_claims.hook_for(str(kind))
            if found is None:
                raise InvalidRequest(f"no custom claims hook is set for {kind}")
        else:
            raise InvalidRequest(f"kind must be one of {', '.join(HOOK_KINDS)}")
        try:
            outcome = await self.custom_claims.run_hook(found[0], found[1], token, context)
        except OAuthError as exc:
            return json_response({"outcome": "refused", **exc.to_dict()})
        return json_response(
            {
                "outcome": "issued",
                "source": outcome.source,
                "claims": outcome.claims,
                "dropped": outcome.dropped,
            }
        )


def _kind(request: Request) -> str:
    kind = str(request.path_params["kind"])
    if kind not in HOOK_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(HOOK_KINDS)}")
    return kind


def _safe(message: str) -> str:
    return printable(message, 200)
