"""The watch index (issue #17, item 6): a resume replays only the records that may
concern its host, and gets exactly the lines of the full replay; real SQLite.

Random operations through the real service (the fan-out test's generator); then,
for every host and a sample of revisions R, the lines of ``watch?revision=R``
through the index equal those of rolling the whole snapshot back through every
record -- also after a restart, when the index was built from the retained log.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from test_server_watch_fanout import HOSTS, _random_op

from l2pop.errors import L2popError
from l2pop.server.auth import AdminToken
from l2pop.server.metrics import Metrics
from l2pop.server.resources.hosts import HostOps
from l2pop.server.resources.networks import NetworkOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore
from l2pop.server.watch import Watches
from l2pop.server.watch.history import replay_lines
from l2pop.server.watch.index import indexed_changes


async def _open(db: Path) -> tuple[Service, NetworkOps, PortOps, HostOps, Watches]:
    service = await Service.open(SQLiteStore(db), AdminToken("a"), ServiceConfig(), Metrics())
    ports = PortOps(service)
    return service, NetworkOps(service), ports, HostOps(service, ports), Watches(service)


async def _same_lines(service: Service, hosts: Watches, rng: random.Random) -> int:
    """Compare indexed and full replays; the records the index let us skip."""
    view = service.view
    snapshot, head = view.snapshot, view.revision
    records = await service.store.changes(0)
    skipped = 0
    for after in sorted({0, head, *rng.sample(range(head + 1), 5)}):
        assert hosts.history.covers(after)
        tail = [r for r in records if r.revision > after]
        for host in [*HOSTS, "unregistered"]:
            full = await replay_lines(snapshot, tail, host)
            chosen, networks = await indexed_changes(
                hosts.history, service.store, snapshot, host, after
            )
            assert networks is not None
            assert await replay_lines(snapshot, chosen, host, networks) == full, (host, after)
            skipped += len(tail) - len(chosen)
    return skipped


async def _scenario(db: Path, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    service, nets, ports, hosts, watches = await _open(db)
    try:
        for i, name in enumerate(HOSTS):
            await hosts.register({"name": name, "tunnel_ip": f"192.0.2.{i + 1}"})
        for _ in range(steps):
            try:
                await _random_op(rng, nets, ports, hosts)
            except L2popError:
                continue
        assert await _same_lines(service, watches, rng) > 0, "the index skipped nothing"
    finally:
        await service.close()
    # After a restart the index covers the retained log once its backfill ran.
    service, nets, ports, hosts, watches = await _open(db)
    try:
        assert watches.backfill is not None
        await watches.backfill
        await _same_lines(service, watches, rng)
    finally:
        await service.close()


@pytest.mark.parametrize("seed", range(2))
def test_an_indexed_resume_gets_the_lines_of_the_full_replay(tmp_path: Path, seed: int) -> None:
    asyncio.run(_scenario(tmp_path / "l2pop.db", seed, steps=120))
