"""CustomClaimsService: runs the custom-claims hooks and merges what they return.

One behaviour for every source: the hook sees a copy of the payload built so
far and a JSON context (Logto's shape, so Logto scripts run unchanged); its
answer must be a JSON object within the size budget; claims the server set
are never overridden (dropped, and logged once per hook and claim); any
failure refuses the token request rather than issuing a token without the
claims it was meant to carry.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from tokensmith._imports import import_string
from tokensmith._types import Claims, JSONObject
from tokensmith.errors import AccessDenied, OAuthError, ServerError, printable
from tokensmith.settings import ConfigError, CustomClaimsConfig, HookSourceConfig, Settings
from tokensmith.stores.sql.claim_scripts import SqlClaimScriptStore
from tokensmith.tokens.claims import PROTECTED_CLAIMS, merge_custom_claims
from tokensmith.tokens.hooks.base import ClaimsHook, HookDenied, HookFailed, HookInput
from tokensmith.tokens.hooks.callable import CallableClaimsHook
from tokensmith.tokens.hooks.script import ScriptClaimsHook
from tokensmith.tokens.hooks.webhook import WebhookClaimsHook

logger = logging.getLogger(__name__)

SCRIPT_RECHECK_SECONDS = 1.0
"""How stale a process's copy of a stored script may be: edits apply within this."""


@dataclass(slots=True, frozen=True)
class HookOutcome:
    """What one hook run produced: the claims kept and the names dropped, and why."""

    source: str
    claims: Claims
    dropped: dict[str, str]


class CustomClaimsService:
    def __init__(self, settings: Settings, claim_scripts: SqlClaimScriptStore):
        self._config = settings.custom_claims
        self._scripts = claim_scripts
        self._environment = {k: v.get_secret_value() for k, v in self._config.environment.items()}
        self._configured = _configured_hooks(settings)
        self._script_cache: dict[str, tuple[float, int | None, ScriptClaimsHook | None]] = {}
        self._first_load: dict[str, asyncio.Lock] = {}
        self._logged_drops: set[tuple[str, str]] = set()

    async def run_hook(
        self, source: str, hook: ClaimsHook, token: Claims, context: JSONObject
    ) -> HookOutcome:
        hook_input = HookInput(copy.deepcopy(token), copy.deepcopy(context), self._environment)
        try:
            result = await hook.run(hook_input)
        except HookDenied as denied:
            raise AccessDenied(printable(denied.message or "access denied", 200)) from None
        except HookFailed as failed:
            raise self._failure(source, failed.reason) from None
        self._check_budget(source, result)
        _, dropped = merge_custom_claims(token, result, log=False)
        for name in dropped:
            self._log_drop(source, name)
        reasons = {
            name: "protected built-in claim" if name in PROTECTED_CLAIMS else "set by the server"
            for name in dropped
        }
        kept = {name: value for name, value in result.items() if name not in reasons}
        return HookOutcome(source, kept, reasons)

    async def hook_for(self, kind: str) -> tuple[str, ClaimsHook] | None:
        """The stored script for ``kind`` if there is one, else the configured hook."""
        script = await self._stored_script(kind)
        if script is not None:
            return f"stored script ({kind})", script
        return self._configured.get(kind)

    def script_hook(self, source: str) -> ScriptClaimsHook:
        """A script hook with the configured limits (raises ValueError if it does not compile)."""
        return ScriptClaimsHook(
            source,
            time_limit_seconds=self._config.script_time_limit_seconds,
            memory_limit_bytes=self._config.script_memory_limit_mb * 1024 * 1024,
        )

    async def _stored_script(self, kind: str) -> ScriptClaimsHook | None:
        """The stored script for ``kind``, re-read at most once a second per process.

        The first load is awaited by everyone (no token goes out without its
        script); after that, the first request to find the copy stale refreshes
        it while requests arriving meanwhile use the copy they have, so a busy
        server makes one lookup a second, not one per request in flight.
        """
        if kind not in self._script_cache:
            async with self._first_load.setdefault(kind, asyncio.Lock()):
                if kind not in self._script_cache:
                    await self._load_script(kind, None)
            return self._script_cache[kind][2]
        checked_at, version, hook = self._script_cache[kind]
        if time.monotonic() - checked_at >= SCRIPT_RECHECK_SECONDS:
            self._script_cache[kind] = (time.monotonic(), version, hook)
            await self._load_script(kind, version)
        return self._script_cache[kind][2]

    async def _load_script(self, kind: str, known_version: int | None) -> None:
        stored = await self._scripts.get(kind)
        now = time.monotonic()
        if stored is None:
            self._script_cache[kind] = (now, None, None)
        elif stored.updated_at != known_version or kind not in self._script_cache:
            # Compiling takes milliseconds of V8 work (more for a hostile script): off the loop.
            try:
                hook = await asyncio.to_thread(self.script_hook, stored.source)
            except ValueError as exc:
                raise self._failure(f"stored script ({kind})", str(exc)) from None
            self._script_cache[kind] = (now, stored.updated_at, hook)

    async def aclose(self) -> None:
        """Close the webhook connection pools (at shutdown)."""
        for _, hook in self._configured.values():
            if isinstance(hook, WebhookClaimsHook):
                await hook.aclose()

    def _check_budget(self, source: str, result: dict[str, Any]) -> None:
        try:
            size = len(orjson.dumps(result))
        except TypeError as exc:
            raise self._failure(source, f"the claims are not JSON-serialisable ({exc})") from None
        if size > self._config.max_bytes:
            reason = f"the claims are {size} bytes, over the budget of {self._config.max_bytes}"
            raise self._failure(source, reason)

    def _failure(self, source: str, reason: str) -> OAuthError:
        logger.error("custom claims hook %s failed: %s", source, reason)
        if self._config.on_failure == "server_error":
            return ServerError("the custom claims hook failed")
        return AccessDenied("the custom claims hook failed")

    def _log_drop(self, source: str, name: str) -> None:
        if (source, name) not in self._logged_drops:
            self._logged_drops.add((source, name))
            logger.warning(
                "custom claims hook %s may not set %r; the claim was dropped", source, name
            )


def _configured_hooks(settings: Settings) -> dict[str, tuple[str, ClaimsHook]]:
    config: CustomClaimsConfig = settings.custom_claims
    hooks: dict[str, tuple[str, ClaimsHook]] = {}
    shorthand = settings.hooks.custom_claims
    for kind in ("user", "machine", "id_token"):
        source: HookSourceConfig | None = getattr(config, kind)
        if source is not None:
            hooks[kind] = _hook_from_config(source, f"custom_claims.{kind}", config)
        elif shorthand is not None and kind != "id_token":
            function = _callable(shorthand, "hooks.custom_claims")
            hooks[kind] = (
                f"python {shorthand}",
                CallableClaimsHook(function, timeout_seconds=config.timeout_seconds),
            )
    return hooks


def _hook_from_config(
    source: HookSourceConfig, key: str, config: CustomClaimsConfig
) -> tuple[str, ClaimsHook]:
    if source.callable is not None:
        function = _callable(source.callable, f"{key}.callable")
        hook = CallableClaimsHook(function, timeout_seconds=config.timeout_seconds)
        return f"python {source.callable}", hook
    assert source.webhook_url is not None
    assert source.webhook_secret is not None
    webhook = WebhookClaimsHook(
        source.webhook_url,
        source.webhook_secret.get_secret_value(),
        timeout_seconds=config.timeout_seconds,
    )
    parts = urlsplit(source.webhook_url)
    return f"webhook {parts.scheme}://{parts.hostname}:{parts.port or ''}", webhook


def _callable(value: str, key: str) -> Callable[..., Any]:
    function = import_string(value, key=key)
    if not callable(function):
        raise ConfigError(f"{key}: {value!r} is not callable")
    return function  # type: ignore[no-any-return]
