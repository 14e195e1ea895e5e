"""KeyRefresher: each process picks up the database's keys on its own, in the background."""

from __future__ import annotations

import asyncio

from tests.keys.conftest import published_kids
from tokensmith.keys.refresher import KeyRefresher

PATIENCE_SECONDS = 5


async def wait_for(condition) -> None:
    for _ in range(PATIENCE_SECONDS * 100):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_a_running_process_follows_a_rotation_made_elsewhere(make_manager):
    server, cli = make_manager(), make_manager()
    await server.ensure_signing_key()
    refresher = KeyRefresher(server, interval=0.02)
    refresher.start()
    try:
        new = await cli.rotation.rotate(immediately=True)
        await wait_for(lambda: server.active.kid == new.kid)
        assert len(published_kids(server)) == 2
    finally:
        await refresher.stop()


async def test_a_failed_refresh_keeps_the_loaded_keys_and_tries_again(make_manager, caplog):
    keys = make_manager()
    await keys.ensure_signing_key()
    loaded = keys.active.kid
    real_refresh, failures = keys.refresh, []

    async def flaky_refresh() -> None:
        if not failures:
            failures.append(1)
            raise OSError("database unreachable")
        await real_refresh()

    keys.refresh = flaky_refresh
    refresher = KeyRefresher(keys, interval=0.02)
    refresher.start()
    try:
        await wait_for(lambda: failures and "refreshing the signing keys failed" in caplog.text)
        await asyncio.sleep(0.1)
        assert keys.active.kid == loaded
    finally:
        await refresher.stop()
    await refresher.stop()  # stopping twice is harmless
