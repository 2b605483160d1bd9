"""etcd watch streams: the replica's long-lived change feed and history reads.

Both watch the whole prefix with ``prev_kv``: etcd attaches the value each key
had just before the event (read at ``revision - 1``), which is the *before*
image of the change record. That read needs ``revision - 1`` to be retained,
so history is served only for ``after >= compacted`` (the watch starts *at*
``after`` and drops that revision's events: a start below the compaction
point is refused by etcd, which becomes :class:`~l2pop.errors.GoneError`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from aetcd import rpc

from l2pop.errors import GoneError, StoreUnavailableError
from l2pop.server.store.etcd_client import EtcdClient
from l2pop.server.store.etcd_codec import Layout

__all__ = ["Compacted", "follow", "read_history"]

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 1.0


class Compacted(Exception):
    """The watch asked for revisions etcd compacted away."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        super().__init__(f"etcd history is compacted up to revision {revision}")


def _create(layout: Layout, start_revision: int) -> Any:
    return rpc.WatchRequest(
        create_request=rpc.WatchCreateRequest(
            key=layout.start,
            range_end=layout.end,
            start_revision=start_revision,
            prev_kv=True,
        )
    )


async def _requests(first: Any, stop: asyncio.Event) -> AsyncIterator[Any]:
    yield first
    await stop.wait()


def _check(response: Any) -> None:
    if response.canceled:
        if response.compact_revision:
            raise Compacted(int(response.compact_revision))
        raise StoreUnavailableError(f"etcd cancelled the watch: {response.cancel_reason}")


async def read_history(
    client: EtcdClient, layout: Layout, after: int, until: int, timeout: float
) -> list[Any]:
    """Watch events with ``after < revision <= until``; ``until`` must be an l2pop revision
    (its ``txn`` event ends the read). Raises GoneError when compacted."""
    stop = asyncio.Event()
    await client.ready(timeout)
    index = client.current
    call = client.watch(_requests(_create(layout, max(after, 1)), stop))
    events: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            async for response in call:
                _check(response)
                for event in response.events:
                    revision = event.kv.mod_revision
                    if after < revision <= until:
                        events.append(event)
                if response.events and response.events[-1].kv.mod_revision >= until:
                    return events
    except Compacted as exc:
        raise GoneError(
            f"revision {after} is compacted (etcd keeps history after {exc.revision}): list again"
        ) from None
    except (TimeoutError, grpc.aio.AioRpcError) as exc:
        client.rotate(failed=index)
        raise StoreUnavailableError(f"etcd history read failed: {exc!r}") from None
    finally:
        stop.set()
        call.cancel()
    raise StoreUnavailableError("etcd ended the history watch early")


async def follow(
    client: EtcdClient,
    layout: Layout,
    next_revision: Callable[[], int],
    deliver: Callable[[list[Any]], Awaitable[None] | None],
    stop: asyncio.Event,
) -> None:
    """Feed every event from ``next_revision()`` on to ``deliver``, reconnecting
    (to the next endpoint) from the last revision after any failure, until ``stop``."""
    backoff = BACKOFF_MIN_S
    while not stop.is_set():
        call = None
        index = client.current
        try:
            await client.ready(2.0)
            call = client.watch(_requests(_create(layout, next_revision()), stop))
            async for response in call:
                _check(response)
                if response.created:
                    backoff = BACKOFF_MIN_S
                if response.events:
                    result = deliver(list(response.events))
                    if result is not None:
                        await result
        except Compacted:
            raise
        except (grpc.aio.AioRpcError, StoreUnavailableError, OSError) as exc:
            if stop.is_set():
                return
            target = client.endpoints[index].target
            log.warning("etcd watch on %s broke (%r); resuming", target, exc)
            client.rotate(failed=index)
        finally:
            if call is not None:
                call.cancel()
        if stop.is_set():
            return
        await asyncio.sleep(backoff)
        backoff = min(BACKOFF_MAX_S, backoff * 2)
