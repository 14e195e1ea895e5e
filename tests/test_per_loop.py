"""PerLoop: one value per event loop, the last loop's found without a new weak reference."""

from __future__ import annotations

import asyncio
import gc
import weakref

from tokensmith._per_loop import PerLoop


def test_each_loop_has_its_own_value_and_a_gone_loop_takes_it_along():
    class Value:
        pass

    made: list[Value] = []

    def factory() -> Value:
        made.append(Value())
        return made[-1]

    per_loop = PerLoop(factory)

    async def twice() -> tuple[Value, Value]:
        return per_loop.get(), per_loop.get()

    first = asyncio.run(twice())
    assert first[0] is first[1] is made[0]
    second = asyncio.run(twice())
    assert second[0] is second[1] is made[1]  # a new loop, a new value, not the last one's
    gone = weakref.ref(second[0])
    del first, second, made[:]
    gc.collect()
    assert gone() is None  # the last loop is gone, and its value with it
    assert per_loop._last is None


def test_two_loops_alternating_keep_their_own_values():
    per_loop: PerLoop[object] = PerLoop(object)
    loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]

    async def get() -> object:
        return per_loop.get()

    try:
        values = [loop.run_until_complete(get()) for loop in loops * 2]
    finally:
        for loop in loops:
            loop.close()
    assert values[0] is values[2] and values[1] is values[3] and values[0] is not values[1]
