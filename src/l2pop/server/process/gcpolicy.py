"""Keep the cyclic garbage collector's full passes off the request path.

A server holding 20,000 ports holds over a million tracked objects (records,
ports, entries). CPython runs a full (generation 2) collection whenever a
quarter as many objects again survived into the old generation: with a
steady stream of writes that is every minute or so, and each pass walks the
whole heap, 200-270 ms measured at 20,000 ports (``l2pop bench server``), a
stall of every watch stream and request at once.

Young collections are made rarer too: CPython collects generation 0 after
every 700 net container allocations, and a port change allocates hundreds
(dicts, frozensets, dataclasses), nearly all freed by reference counting
anyway. Measured with ``gc.callbacks`` under ``l2pop bench server``: 2,150
young collections took 2.0 s of the server's 18.7 s of CPU (11 %); with a
threshold of 50,000, 8 collections took 0.25 s. A young pass then walks at
most that many objects (a millisecond or two).

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
    # Net container allocations between two young collections (0: CPython's).
    young_threshold: int = 50_000


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
    """Apply ``policy`` until cancelled; the collector is as it was afterwards.

    ``freeze_every=0`` leaves the collector alone (threshold included) and returns.
    """
    if policy.freeze_every <= 0:
        return
    before = gc.get_threshold()
    if policy.young_threshold > 0:
        gc.set_threshold(policy.young_threshold, *before[1:])
    try:
        await _freeze_periodically(policy)
    finally:
        gc.set_threshold(*before)


async def _freeze_periodically(policy: GcPolicy) -> None:
    """Freeze what the process holds now, then every ``freeze_every`` s."""
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
