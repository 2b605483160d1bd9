"""The GC policy: frozen objects are out of collections until the full pass frees them."""

from __future__ import annotations

import asyncio
import gc
import weakref

from l2pop.server.process.gcpolicy import GcPolicy, freeze_survivors, full_collection, run_gc_policy


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_frozen_cycle_waits_for_the_full_collection() -> None:
    try:
        node = _Node()
        ref = weakref.ref(node)
        freeze_survivors()
        del node
        gc.collect()  # an ordinary full pass does not walk the permanent generation
        assert ref() is not None
        assert full_collection() >= 1
        assert ref() is None
    finally:
        gc.unfreeze()


def test_the_policy_freezes_while_it_runs_and_unfreezes_when_cancelled() -> None:
    async def scenario() -> tuple[int, int]:
        task = asyncio.create_task(run_gc_policy(GcPolicy(freeze_every=0.01, full_every=0.03)))
        await asyncio.sleep(0.1)
        frozen = gc.get_freeze_count()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return frozen, gc.get_freeze_count()

    gc.unfreeze()
    frozen, after = asyncio.run(scenario())
    assert frozen > 0
    assert after == 0


def test_a_zero_interval_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    asyncio.run(run_gc_policy(GcPolicy(freeze_every=0)))
    assert gc.get_freeze_count() == 0


def test_young_collections_are_rarer_while_the_policy_runs_and_as_before_after() -> None:
    before = gc.get_threshold()

    async def scenario() -> tuple[int, ...]:
        policy = GcPolicy(freeze_every=10, young_threshold=12_345)
        task = asyncio.create_task(run_gc_policy(policy))
        await asyncio.sleep(0.01)
        during = gc.get_threshold()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return during

    try:
        assert asyncio.run(scenario()) == (12_345, *before[1:])
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
