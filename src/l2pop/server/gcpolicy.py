"""Keep the cyclic garbage collector's full passes off the request path.

A server holding 20,000 ports holds over a million tracked objects (records,
ports, entries). CPython runs a full (generation 2) collection whenever a
quarter as many objects again survived into the old generation: with a
steady stream of writes that is every minute or so, and each pass walks the
whole heap, 200-270 ms measured at 20,000 ports (``l2pop bench server``), a
stall of every watch stream and request at once.

So the old generation is frozen (``gc.freeze``, as Instagram does with its
forked workers): after a young collection, every survivor moves to the
permanent generation, which collections do not walk. Objects there are still
freed by reference counting when they are dropped (records are replaced, not
cycled); only garbage *cycles* frozen while alive wait for the rare full
pass, which unfreezes and collects everything, and is logged.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass

__all__ = ["GcPolicy", "run_gc_policy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GcPolicy:
    # Seconds between freezes (0 leaves the collector alone): a full pass
    # between two freezes walks only what was created since the last one.
    freeze_every: float = 10.0
    # Seconds between full collections of everything: garbage cycles frozen
    # while still alive (requests in flight at a freeze) are freed then.
    full_every: float = 900.0


def freeze_survivors() -> None:
    gc.collect(1)  # young garbage cycles first: cheap, and not frozen
    gc.freeze()


def full_collection() -> int:
    started = time.perf_counter()
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    elapsed_ms = 1000 * (time.perf_counter() - started)
    log.info("full garbage collection: %d objects freed in %.0f ms", found, elapsed_ms)
    return found


async def run_gc_policy(policy: GcPolicy) -> None:
    """Freeze what the process holds now, then every ``freeze_every`` s; until cancelled."""
    if policy.freeze_every <= 0:
        return
    freeze_survivors()
    last_full = time.monotonic()
    try:
        while True:
            await asyncio.sleep(policy.freeze_every)
            if time.monotonic() - last_full >= policy.full_every:
                full_collection()
                last_full = time.monotonic()
            else:
                freeze_survivors()
    finally:
        gc.unfreeze()
