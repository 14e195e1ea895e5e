"""Run an administrator's Logto-style ``getCustomJwtClaims`` script in V8.

The script is the text a Logto operator pastes into Logto's console::

    const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {
      return { roles: context.user.roles.map((role) => role.name) };
    };

so a Logto tenant can move without rewriting it. ``api.denyAccess(message)``
refuses the token request (``HookDenied``); anything else that goes wrong,
including running past the time or memory limit, is ``HookFailed``.

Why it is shaped this way:

* Every call gets a fresh V8 isolate, so nothing one token request leaves
  behind (globals, patched prototypes) reaches the next.
* The isolate runs in a worker thread, so a slow script never stalls the
  server's event loop.
* A bare isolate has no ``fetch``, ``require``, ``process`` or file API, and no
  Python function is exposed to it: ``api.denyAccess`` is plain JavaScript.
  (Unlike Logto, a script here therefore cannot ``fetch`` external data.)
* Inputs enter V8 only as JSON text inside a JSON-escaped string literal and
  the result leaves only as JSON text, so no data is ever evaluated as code
  and only JSON types come back.

mini-racer interrupts JavaScript only while one of *its tasks* runs, but the
continuations of an ``async`` script run between tasks, where
``JSPromise.get(timeout=...)`` cannot stop them. So the harness stores the
outcome in a global that Python polls with short, cancelable evaluations until
the deadline; closing the isolate then terminates whatever still runs. A few V8
built-ins ignore termination (``new Array(1e8).fill(0)``), so ``run`` also stops
waiting for its worker thread shortly after the deadline.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    LibAlreadyInitializedError,
    MiniRacer,
    init_mini_racer,
)

from tokensmith.tokens.hooks.base import HookDenied, HookFailed, HookInput

__all__ = ["ScriptClaimsHook"]

_T = TypeVar("_T")

_ENTRY_POINT: Final = "getCustomJwtClaims"
_MAX_MESSAGE: Final = 200
_GRACE_SECONDS: Final = 1.0
_FIRST_POLL_SECONDS: Final = 0.001
_MAX_POLL_SECONDS: Final = 0.05

# Where the CPU has memory protection keys (PKU), V8 guards its code memory with
# them. Key rights are per thread and inherited only by threads later created
# from the initialising one, so in our tests isolates started from other worker
# threads while another isolate ran crashed the process (SIGSEGV). Keys are off;
# --single-threaded is mini-racer's default: V8 starts no helper threads of its
# own, which is what mini-racer relies on for fork safety.
_V8_FLAGS: Final = ("--single-threaded", "--no-memory-protection-keys")
_V8_START: Final = threading.Lock()
_ONE_ISOLATE_AT_A_TIME: Final = threading.Lock()

# The script may have written anything to this global, so only a string counts.
_READ_OUTCOME: Final = (
    "(() => { const outcome = globalThis.__tokensmithOutcome;"
    " return typeof outcome === 'string' ? outcome : undefined; })()"
)
# Appended to the script so its completion value is undefined (mini-racer cannot
# convert some values, such as a BigInt). The newline ends a trailing comment.
_DISCARD_COMPLETION: Final = "\n;void 0;"

# Runs after the script, in the same isolate, and settles once into JSON text:
# {"claims": ...}, {"denied": message} or {"error": message}. The input arrives
# as a JSON-encoded string literal placed between the two halves.
_INVOKE_BEFORE_INPUT: Final = """
(() => {
  'use strict';
  class AccessDenied extends Error {}
  const api = Object.freeze({
    denyAccess(message) {
      throw new AccessDenied(message === undefined ? '' : String(message));
    },
  });
  const describe = (error) => {
    try {
      return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    } catch {
      return 'an unprintable value was thrown';
    }
  };
  const settle = (outcome) => {
    let text;
    try {
      text = JSON.stringify(outcome);
    } catch (error) {
      text = JSON.stringify({ error: describe(error) });
    }
    globalThis.__tokensmithOutcome = text;
  };
  const input = JSON.parse("""
_INVOKE_AFTER_INPUT: Final = """);
  (async () => getCustomJwtClaims({ ...input, api }))().then(
    (claims) => settle({ claims }),
    (error) => settle(
      error instanceof AccessDenied ? { denied: error.message } : { error: describe(error) },
    ),
  );
})();
"""


class ScriptClaimsHook:
    """A ``ClaimsHook`` backed by a stored JavaScript ``getCustomJwtClaims`` script."""

    def __init__(
        self,
        source: str,
        *,
        time_limit_seconds: float = 1.0,
        memory_limit_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        """Load the script once in a throwaway isolate, so a broken one is refused now.

        This blocks for up to ``time_limit_seconds``: build hooks at start-up or
        when an administrator saves a script, not per request.
        """
        if time_limit_seconds <= 0:
            raise ValueError("time_limit_seconds must be positive")
        if memory_limit_bytes <= 0:
            raise ValueError("memory_limit_bytes must be positive")
        self._source = source
        self._time_limit = time_limit_seconds
        self._memory_limit = memory_limit_bytes
        # Its own thread: mini-racer would otherwise adopt a running event loop,
        # where it cannot apply a time limit.
        with ThreadPoolExecutor(max_workers=1) as pool:
            try:
                kind = pool.submit(self._in_worker, self._entry_point_kind).result()
            except HookFailed as exc:
                raise ValueError(exc.reason) from None
        if kind != "function":
            raise ValueError(f"custom claims script must define {_ENTRY_POINT} as a function")

    async def run(self, hook_input: HookInput) -> dict[str, Any]:
        """The script's claims; the event loop keeps serving while it runs."""
        literal = json.dumps(_encode_input(hook_input))
        job = functools.partial(self._claims_for, literal)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._in_worker, job),
                timeout=self._time_limit + _GRACE_SECONDS,
            )
        except TimeoutError:
            raise _over_time(self._time_limit) from None

    def _in_worker(self, job: Callable[[float], Coroutine[Any, Any, _T]]) -> _T:
        """Thread body: ``job`` gets a private event loop and the run's deadline.

        mini-racer's own helper loop closes before the isolate is freed, so a
        cancelled evaluation that V8 reports late would raise inside a ctypes
        callback; with this loop still open during ``close()`` it is dropped.
        """
        deadline = time.monotonic() + self._time_limit
        with self._v8_slot(deadline):
            return asyncio.run(job(deadline))

    @contextmanager
    def _v8_slot(self, deadline: float) -> Iterator[None]:
        """Isolates run side by side only if V8 was started with our flags."""
        with _V8_START:
            parallel = _start_v8()
        if parallel:
            yield
            return
        if not _ONE_ISOLATE_AT_A_TIME.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise _over_time(self._time_limit)
        try:
            yield
        finally:
            _ONE_ISOLATE_AT_A_TIME.release()

    async def _entry_point_kind(self, deadline: float) -> object:
        with self._new_isolate() as isolate:
            await self._eval(isolate, self._source + _DISCARD_COMPLETION, deadline)
            return await self._eval(isolate, f"typeof {_ENTRY_POINT}", deadline)

    async def _claims_for(self, literal: str, deadline: float) -> dict[str, Any]:
        with self._new_isolate() as isolate:
            await self._eval(isolate, self._source + _DISCARD_COMPLETION, deadline)
            invocation = _INVOKE_BEFORE_INPUT + literal + _INVOKE_AFTER_INPUT
            await self._eval(isolate, invocation, deadline)
            return _claims_from(await self._poll_outcome(isolate, deadline))

    @contextmanager
    def _new_isolate(self) -> Iterator[MiniRacer]:
        with MiniRacer() as isolate:
            isolate.set_hard_memory_limit(self._memory_limit)
            yield isolate

    async def _poll_outcome(self, isolate: MiniRacer, deadline: float) -> str:
        """Wait for the harness to settle, in short evaluations V8 can interrupt."""
        pause = _FIRST_POLL_SECONDS
        while True:
            outcome = await self._eval(isolate, _READ_OUTCOME, deadline)
            if isinstance(outcome, str):
                return outcome
            if isolate.was_hard_memory_limit_reached():
                raise _over_memory(self._memory_limit)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _over_time(self._time_limit)
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    async def _eval(self, isolate: MiniRacer, code: str, deadline: float) -> object:
        """One evaluation, cut off at the deadline; V8 errors become HookFailed."""
        try:
            return await asyncio.wait_for(
                isolate.eval_cancelable(code), timeout=max(deadline - time.monotonic(), 0)
            )
        except TimeoutError:
            raise _over_time(self._time_limit) from None
        except JSEvalException as exc:
            if isinstance(exc, JSOOMException) or isolate.was_hard_memory_limit_reached():
                raise _over_memory(self._memory_limit) from None
            # V8's first line names the error and its place; the rest quotes source.
            first_line = str(exc).strip().partition("\n")[0]
            raise HookFailed(f"custom claims script raised: {_clip(first_line)}") from None


@functools.cache
def _start_v8() -> bool:
    """Start V8 with our flags; False if something else in the process started it."""
    try:
        init_mini_racer(flags=_V8_FLAGS)
    except LibAlreadyInitializedError:
        return False
    return True


def _encode_input(hook_input: HookInput) -> str:
    """The script's argument as JSON text; NaN is refused since JSON.parse rejects it."""
    return json.dumps(
        {
            "token": hook_input.token,
            "context": hook_input.context,
            "environmentVariables": hook_input.environment,
        },
        allow_nan=False,
    )


def _claims_from(text: str) -> dict[str, Any]:
    """Turn the harness's JSON outcome into claims, or the matching hook error."""
    try:
        outcome = json.loads(text)
    except ValueError:
        outcome = None
    if not isinstance(outcome, dict):
        raise HookFailed("custom claims script produced an unreadable result")
    if "denied" in outcome:
        raise HookDenied(_clip(str(outcome["denied"])))
    if "error" in outcome:
        raise HookFailed(f"custom claims script raised: {_clip(str(outcome['error']))}")
    claims = outcome.get("claims")
    if not isinstance(claims, dict):
        kind = _js_type_name(claims) if "claims" in outcome else "undefined"
        raise HookFailed(f"{_ENTRY_POINT} must return an object, not {kind}")
    return claims


def _js_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


def _clip(message: str) -> str:
    """Keep script-supplied text to one short line: it ends up in logs and responses."""
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _over_time(limit: float) -> HookFailed:
    return HookFailed(f"custom claims script exceeded its {limit:g} s time limit")


def _over_memory(limit: int) -> HookFailed:
    return HookFailed(f"custom claims script exceeded its {limit / 2**20:g} MiB memory limit")
