"""The gateway: l2pop's state out as EVPN routes, EVPN routes in as remote endpoints.

Three loops share one :class:`Gateway`:

* **feed**: list the server's records, then follow its watch; every change
  re-derives the routes to export and hands the difference to the speaker.
  A revision gone from the log (``410``) lists again; an unreachable server
  leaves everything as it is (fail static: the routes stay announced, the
  remote endpoints stay programmed) and is retried;
* **imports**: ``gobgp monitor`` reports every received path; the routes of
  a known network's route target become the remote endpoints this gateway
  holds, written as one batch per burst;
* the speaker (gobgpd) runs as a child and dies with the gateway.

Restart reconciles instead of re-adding: the server keeps what this gateway
imported (its held records) and the speaker's RIB what it announced; only
the differences are written. Stale holds are removed only once the peers
had time to send their tables (``--settle``), never from an empty RIB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2pop.core import RemoteEndpoint
from l2pop.errors import GoneError, L2popError, ServerUnreachableError
from l2pop.evpn.client import GatewayApi
from l2pop.evpn.mirror import Mirror
from l2pop.evpn.routes import (
    ImportedRoute,
    Route,
    export_routes,
    imported_endpoints,
    parse_gobgp_path,
)
from l2pop.evpn.speaker import GoBgp, SpeakerConfig, SpeakerError

__all__ = ["Gateway", "GatewayOptions"]

log = logging.getLogger(__name__)

RETRY_S = 1.0
IMPORT_BATCH_S = 0.05
PEER_TABLE_S = 1.0
SETTLE_CAP_S = 60.0


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    server: str
    token: str
    speaker: SpeakerConfig
    workdir: Path
    ca_file: Path | None = None
    name: str | None = None
    settle: float = 5.0


@dataclass
class Gateway:
    options: GatewayOptions
    api: GatewayApi
    speaker: GoBgp
    mirror: Mirror | None = None
    exported: set[Route] = field(default_factory=set)
    received: dict[str, ImportedRoute] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _imports_due: asyncio.Event = field(default_factory=asyncio.Event)
    _skipped_logged: set[str] = field(default_factory=set)
    _settled_at: float | None = None
    _up_since: float | None = None
    # Called once gobgpd is up (systemd's READY=1): the gateway then serves BGP and
    # follows the server, or fails static while the server cannot be reached.
    on_ready: Callable[[], None] | None = None

    @classmethod
    def create(cls, options: GatewayOptions) -> Gateway:
        api = GatewayApi(options.server, options.token, options.ca_file)
        return cls(options, api, GoBgp(options.speaker, options.workdir))

    @property
    def name(self) -> str:
        return self.options.name or f"evpn-{self.options.speaker.router_id}"

    async def run(self) -> None:
        await self.speaker.start()
        log.info(
            "gobgpd up (API 127.0.0.1:%d), peers %s",
            self.speaker.api_port,
            self.options.speaker.peers,
        )
        if self.on_ready is not None:
            self.on_ready()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._feed())
                tasks.create_task(self._monitor())
                tasks.create_task(self._imports())
        finally:
            await self.speaker.stop()
            await self.api.close()

    # -- the feed: l2pop -> routes ------------------------------------------------

    async def _list(self) -> None:
        state = await self.api.state()
        if state.get("gateway") is None:
            await self.api.become_gateway(self.name)
            state = await self.api.state()
        gateway = str(state["gateway"])
        self.mirror = Mirror.from_state(state, gateway)
        log.info(
            "listed revision %d as gateway %s: %d networks, %d held remote endpoints",
            self.mirror.revision,
            gateway,
            len(self.mirror.snapshot.networks),
            len(self.mirror.held),
        )
        await self._export()
        self._imports_due.set()

    async def _feed(self) -> None:
        while True:
            try:
                if self.mirror is None:
                    await self._list()
                assert self.mirror is not None
                async with self.api.watch(self.mirror.revision) as lines:
                    async for line in lines:
                        if line.get("type") != "change":
                            continue
                        self.mirror.apply(line)
                        await self._export()
                        self._imports_due.set()
                raise ServerUnreachableError("the watch ended")
            except GoneError:
                log.warning("revision gone from the server's log: listing again")
                self.mirror = None
            except (ServerUnreachableError, OSError) as exc:
                # Fail static: routes and remote endpoints stay as they are.
                log.warning("server unreachable (%s); retrying in %.0f s", exc, RETRY_S)
                await asyncio.sleep(RETRY_S)

    async def _export(self) -> None:
        assert self.mirror is not None
        for net_id in self.mirror.without_rd_index():
            try:
                self.mirror.rd_indexes[net_id] = await self.api.rd_index(net_id)
            except (L2popError, RuntimeError) as exc:  # its routes wait for the next change
                log.warning("no RD index for network %s yet: %s", net_id, exc)
        wanted, skipped = export_routes(self.mirror.snapshot, self.mirror.rd_indexes)
        for what in skipped - self._skipped_logged:
            log.warning("not exported (IPv6 VTEP, or no RD index yet): %s", what)
        self._skipped_logged |= skipped
        add = sorted(wanted - self.exported, key=repr)
        remove = sorted(self.exported - wanted, key=repr)
        if add or remove:
            await self.speaker.apply(add, remove)
            log.info("exported +%d -%d routes (%d in all)", len(add), len(remove), len(wanted))
        self.exported = wanted

    # -- imports: routes -> remote endpoints --------------------------------------

    async def _monitor(self) -> None:
        """Received paths, kept current from ``gobgp monitor``; a monitor that ends
        (not gobgpd) is started again, after a fresh copy of the RIB."""
        while True:
            try:
                async for paths in self.speaker.monitor():
                    self._received(paths)
            except SpeakerError as exc:
                if not self.speaker.running():
                    raise SpeakerError("gobgpd exited: see its log in --workdir") from exc
            log.warning("gobgp monitor ended; starting it again")
            await asyncio.sleep(RETRY_S)
            with contextlib.suppress(SpeakerError):
                rib = await self.speaker.rib()
                self.received.clear()
                self._received([p for paths in rib.values() for p in paths])

    def _received(self, paths: list[dict[str, Any]]) -> None:
        for path in paths:
            parsed = parse_gobgp_path(path)
            if parsed is None:
                continue
            route, withdrawn = parsed
            if withdrawn:
                self.received.pop(route.key, None)
            else:
                self.received[route.key] = route
        self._imports_due.set()

    async def _settled(self) -> bool:
        """Whether withdrawals may be acted on: every peer's session has been up for
        ``PEER_TABLE_S`` (its table has arrived) and ``--settle`` has passed since start;
        a peer that never comes up stops holding them back after ``SETTLE_CAP_S``."""
        if self._settled_at is not None:
            return True
        now = time.monotonic()
        if now - self.started >= max(self.options.settle, SETTLE_CAP_S):
            self._settled_at = now
            self._imports_due.set()
            return True
        try:
            up = await self.speaker.established()
        except SpeakerError:
            return False
        if up < set(self.options.speaker.peers):
            self._up_since = None
            return False
        self._up_since = self._up_since or now
        if now - self._up_since >= PEER_TABLE_S and now - self.started >= self.options.settle:
            self._settled_at = now
            self._imports_due.set()  # the withdrawals held back so far: now
            log.info("peers up and settled: imports are reconciled from now on")
            return True
        return False

    async def _imports(self) -> None:
        while True:
            settled = await self._settled()
            if settled:
                await self._imports_due.wait()
            else:
                # Until settled, look again twice a second (the peers' sessions come up).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await self._imports_due.wait()
            await asyncio.sleep(IMPORT_BATCH_S)  # a burst of paths: one write
            self._imports_due.clear()
            if self.mirror is None:
                continue
            wanted = imported_endpoints(
                self.received.values(),
                self.mirror.targets(self.options.speaker.asn),
                self.mirror.own_vteps(),
            )
            held = set(self.mirror.held.values())
            add = wanted - held
            remove = held - wanted if settled else set()
            if add or remove:
                await self._write(sorted(add, key=_key), sorted(remove, key=_key))

    async def _write(self, add: Sequence[RemoteEndpoint], remove: Sequence[RemoteEndpoint]) -> None:
        assert self.mirror is not None
        try:
            await self.api.write(add, remove)
        except L2popError as exc:
            log.warning("writing remote endpoints failed (%s); retrying", exc)
            await asyncio.sleep(RETRY_S)
            self._imports_due.set()
            return
        except RuntimeError as exc:  # a 404: a network went meanwhile; the feed will say so
            log.warning("remote endpoints refused (%s); retrying after the feed", exc)
            await asyncio.sleep(RETRY_S)
            self._imports_due.set()
            return
        for ep in add:
            self.mirror.held[ep.key] = ep
        for ep in remove:
            self.mirror.held.pop(ep.key, None)
        log.info(
            "remote endpoints +%d -%d: %s",
            len(add),
            len(remove),
            " ".join([f"+{e.key}" for e in add[:20]] + [f"-{e.key}" for e in remove[:20]]),
        )


def _key(ep: RemoteEndpoint) -> str:
    return ep.key


async def run_gateway(options: GatewayOptions, on_ready: Callable[[], None] | None = None) -> None:
    """Run until cancelled; a fatal error (bad token, speaker gone) is raised alone,
    not inside the task group's ExceptionGroup, so the command can say what it was."""
    gateway = Gateway.create(options)
    gateway.on_ready = on_ready
    try:
        await gateway.run()
    except asyncio.CancelledError:
        return
    except BaseExceptionGroup as group:
        fatal = group.subgroup(lambda e: isinstance(e, L2popError | SpeakerError))
        if fatal is not None:
            first = fatal.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        raise
