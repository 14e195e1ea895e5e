"""Batcher: which calls a round trip serves is settled when it takes them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from tokensmith.stores.sql.batching import MAX_BATCH, SETTLE_TURNS, Batch, Batcher


class Recorder:
    """A flush that takes its batch on a thread, once the test lets it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = asyncio.Event()
        self.go = threading.Event()
        self.took = threading.Event()

    async def flush(self, batch: Batch[str, str]) -> Sequence[str]:
        self.started.set()

        def on_thread() -> list[str]:
            self.go.wait(10)
            items = batch.take()
            self.took.set()
            return items

        items = await asyncio.to_thread(on_thread)
        self.batches.append(items)
        return [item.upper() for item in items]


async def test_calls_that_arrive_before_the_round_trip_takes_its_batch_join_it():
    recorder = Recorder()
    batcher = Batcher(recorder.flush, name="test")
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.started.wait()  # the round trip has begun, and has taken nothing yet
    later = [asyncio.create_task(batcher.submit(item)) for item in ("b", "c")]
    await asyncio.sleep(0)
    recorder.go.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "C"]
    assert recorder.batches == [["a", "b", "c"]]


async def test_a_round_trip_takes_at_most_max_batch_calls():
    recorder = Recorder()
    recorder.go.set()
    batcher = Batcher(recorder.flush, name="test")
    items = [f"i{n}" for n in range(MAX_BATCH + 5)]
    assert await asyncio.gather(*(batcher.submit(item) for item in items)) == [
        item.upper() for item in items
    ]
    assert [len(batch) for batch in recorder.batches] == [MAX_BATCH, 5]


async def test_a_flush_that_fails_before_taking_fails_the_waiting_calls_once():
    calls = 0

    async def down(_batch: Batch[str, str]) -> Sequence[str]:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    batcher = Batcher(down, name="test")
    outcomes = await asyncio.gather(
        *(batcher.submit(item) for item in "abc"), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [ConnectionError] * 3
    assert calls == 1  # one round trip failed them all; no round trip per call, no loop


async def test_a_flush_that_takes_nothing_fails_its_calls_instead_of_hanging():
    async def forgetful(_batch: Batch[str, str]) -> Sequence[str]:
        return []

    batcher = Batcher(forgetful, name="test")
    with pytest.raises(RuntimeError, match="took no calls"):
        await asyncio.wait_for(batcher.submit("a"), 5)


async def test_take_is_settled_once():
    recorder = Recorder()
    recorder.go.set()
    seen: list[list[str]] = []

    async def twice(batch: Batch[str, str]) -> Sequence[str]:
        first = batch.take()
        await asyncio.sleep(0)  # more calls arrive
        seen.append(batch.take())
        return first

    batcher = Batcher(twice, name="test")
    a = asyncio.create_task(batcher.submit("a"))
    await asyncio.sleep(0)
    b = asyncio.create_task(batcher.submit("b"))
    assert await asyncio.gather(a, b) == ["a", "b"]
    assert seen == [["a"], ["b"]]


async def test_cancelling_the_round_trip_cancels_its_calls_and_those_waiting():
    started = asyncio.Event()

    async def stuck(batch: Batch[str, str]) -> Sequence[str]:
        batch.take()
        started.set()
        await asyncio.sleep(3600)
        return []

    batcher = Batcher(stuck, name="test-stuck")
    first = asyncio.create_task(batcher.submit("a"))
    await started.wait()
    waiting = [asyncio.create_task(batcher.submit(item)) for item in "bc"]
    await asyncio.sleep(0)
    [runner] = [task for task in asyncio.all_tasks() if task.get_name() == "test-stuck"]
    runner.cancel()
    outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)


async def test_a_thread_that_takes_after_its_round_trip_was_cancelled_takes_nothing():
    recorder = Recorder()  # its thread waits for `go`, then takes
    batcher = Batcher(recorder.flush, name="test-late")
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.started.wait()
    [runner] = [task for task in asyncio.all_tasks() if task.get_name() == "test-late"]
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(batcher.submit("b"))
    await asyncio.sleep(0)  # "b" waits; the new round trip has not started yet
    recorder.go.set()  # the cancelled round trip's thread goes on and takes
    assert recorder.took.wait(5)
    assert await asyncio.wait_for(second, 5) == "B"  # served by the new round trip, not lost
    assert ["b"] in recorder.batches and ["a"] not in recorder.batches


class Counting:
    """A flush that answers at once and keeps each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def flush(self, batch: Batch[str, str]) -> Sequence[str]:
        items = batch.take()
        self.batches.append(items)
        return [item.upper() for item in items]


async def submit_after_turns(batcher: Batcher[str, str], item: str, turns: int) -> str:
    for _ in range(turns):
        await asyncio.sleep(0)
    return await batcher.submit(item)


async def test_a_settling_batcher_starts_once_calls_stop_coming():
    """Calls arriving one loop turn after another share one round trip."""
    counting = Counting()
    batcher = Batcher(counting.flush, name="test", settle_turns=SETTLE_TURNS)
    items = [f"i{n}" for n in range(8)]
    calls = [submit_after_turns(batcher, item, turns) for turns, item in enumerate(items)]
    assert await asyncio.gather(*calls) == [item.upper() for item in items]
    assert counting.batches == [items]


async def test_without_settling_the_first_call_goes_alone():
    counting = Counting()
    batcher = Batcher(counting.flush, name="test")
    items = [f"i{n}" for n in range(8)]
    calls = [submit_after_turns(batcher, item, turns) for turns, item in enumerate(items)]
    assert await asyncio.gather(*calls) == [item.upper() for item in items]
    assert counting.batches[0] == ["i0"]


async def test_calls_that_never_stop_coming_wait_at_most_settle_turns():
    counting = Counting()
    batcher = Batcher(counting.flush, name="test", settle_turns=4)
    items = [f"i{n}" for n in range(12)]
    calls = [submit_after_turns(batcher, item, turns) for turns, item in enumerate(items)]
    assert await asyncio.gather(*calls) == [item.upper() for item in items]
    assert counting.batches[0] == items[:5]  # the first, then one a turn for 4 turns
    assert [item for batch in counting.batches for item in batch] == items
