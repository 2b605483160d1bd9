"""The interpreter settings the server changes are restored when it stops."""

from __future__ import annotations

import asyncio
import gc
import sys

from l2pop.server.process.gcpolicy import GcPolicy
from l2pop.server.process.tuning import InterpreterTuning


def test_the_switch_interval_and_the_collector_are_restored() -> None:
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()

    async def run(tuning: InterpreterTuning) -> None:
        tuning.start_gc_policy()
        await asyncio.sleep(0.05)
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0
        await tuning.stop_gc_policy()

    with InterpreterTuning(GcPolicy(young_threshold=12_345), switch_interval=0.001) as tuning:
        assert sys.getswitchinterval() == 0.001
        asyncio.run(run(tuning))
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == interval
