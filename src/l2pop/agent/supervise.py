"""Keep a long-running task alive: a bug in it is logged and the task restarted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from l2pop.agent.backoff import Backoff
from l2pop.agent.config import BackoffPolicy

__all__ = ["supervise"]

log = logging.getLogger(__name__)


async def supervise(name: str, body: Callable[[], Awaitable[None]], policy: BackoffPolicy) -> None:
    """Run ``body`` until it returns; an exception is logged and ``body`` started again
    after a backoff, so the agent (and the kernel it keeps) stays up. Cancellation ends it."""
    backoff = Backoff(policy)
    while True:
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("agent task %s failed; restarting it", name)
            await asyncio.sleep(backoff.next_delay())
