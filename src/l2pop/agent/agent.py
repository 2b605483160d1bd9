"""The agent process: list + watch the host's desired state, keep the kernel equal to it,
report its ports' status from their taps.

Tasks, all in one event loop, sharing state under one lock:

* **sync**: list ``/state``, reconcile everything, then watch from that revision;
  each change line is checked against the held state, applied, and only the
  networks it touches are reconciled. ``410`` (or a line that does not fit):
  list again. Server unreachable: the kernel stays as it is (fail static) and
  the watch resumes from the held revision on the next server URL, with
  jittered exponential backoff after each full round of URLs.
* **taps**: tap devices appearing / going (netlink, via a thread) -> attach the
  tap to its network's bridge, report the port ``ACTIVE`` / ``DOWN``.
* **repair**: every ``resync_interval`` s re-read the kernel and repair drift;
  also right after a failed apply. Never before the first successful list (an
  agent that cannot reach the server must not touch a working kernel).
* **reporter**: sends status reports, retrying while no server answers.

Stopping (SIGTERM) cancels the tasks, waits for a dataplane call in flight,
and leaves the kernel and the ports' status as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from l2pop.agent.announce import Announcer, endpoint_url
from l2pop.agent.backoff import Backoff
from l2pop.agent.client import HostApi, WatchLineTooLong
from l2pop.agent.config import AgentConfig
from l2pop.agent.desired import Held
from l2pop.agent.endpoint import AgentEndpoint, Sources
from l2pop.agent.intake import Batch, LineIntake, Relist
from l2pop.agent.kernel import KernelView, Scope
from l2pop.agent.metrics import AgentMetrics
from l2pop.agent.ports import StatusReporter, status_to_report, statuses_to_report
from l2pop.agent.supervise import supervise
from l2pop.agent.taps import TapWatcher
from l2pop.agent.underlay import UnderlayAllowlist
from l2pop.core.model import PortStatus
from l2pop.dataplane.allowlist import Allowlist
from l2pop.dataplane.base import AttachTap, Dataplane, Op, TapEvent
from l2pop.errors import (
    AuthError,
    DataplaneError,
    ForbiddenError,
    GoneError,
    L2popError,
    ServerUnreachableError,
    ValidationError,
)
from l2pop.explain.wire import encode_held, encode_kernel
from l2pop.reloader import Reloader
from l2pop.tlsclient import LiveClientTls

__all__ = ["Agent"]

log = logging.getLogger(__name__)


class Agent:
    """One host's agent. ``await run()`` until :meth:`request_stop`."""

    def __init__(
        self,
        config: AgentConfig,
        dataplane: Dataplane,
        *,
        api: HostApi | None = None,
        metrics: AgentMetrics | None = None,
        allowlist: Allowlist | None = None,
    ) -> None:
        self.config = config
        self.dataplane = dataplane
        self.metrics = metrics or AgentMetrics()
        self._api = api
        self._token = config.token
        if allowlist is None and config.underlay_allowlist:
            allowlist = Allowlist()
        self._allowlist = None if allowlist is None else UnderlayAllowlist(allowlist)
        self.held = Held()
        self.view = KernelView(
            dataplane, mode=config.mode, local_ip=config.tunnel_ip, metrics=self.metrics
        )
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._repair_now = asyncio.Event()
        self.listed = asyncio.Event()
        # Set once the kernel was read at start: from then on the agent holds the
        # host fail-static whether or not a server answers (systemd's READY=1).
        self.ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._announcer: Announcer | None = None  # run() makes it
        self._opened_streams = 0
        self._intake = LineIntake(self.metrics)
        # Between list/watch attempts; reset when a watch stream opens.
        self._backoff = Backoff(config.backoff)
        self._failures = 0  # consecutive watch attempts that failed

    # --- lifecycle --------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop soon; callable from any thread and from signal handlers."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        # One client context for the agent's life, its files re-read when they change
        # (a renewed host certificate) or on SIGHUP; open streams keep their session.
        live = LiveClientTls(cfg.tls) if cfg.tls is not None and cfg.tls.paths else None
        reloading = None if live is None else Reloader([(live.tls.paths, live.reload)]).start()
        api = self._api or HostApi(
            cfg.servers, cfg.host, cfg.token, timeout=cfg.request_timeout, tls=live
        )
        self._api = api
        reporter = StatusReporter(api, self.metrics, cfg.backoff)
        self._reporter = reporter
        endpoint = (
            AgentEndpoint(
                self.metrics.registry,
                Sources(self._loop, self._held_json, self._kernel_json),
                cfg.metrics_port,
                cfg.metrics_addr,
            )
            if cfg.metrics_port is not None
            else None
        )
        url = endpoint_url(
            cfg.metrics_addr, None if endpoint is None else endpoint.port, cfg.tunnel_ip
        )
        announcer = self._announcer = Announcer(api, lambda: self.held.revision, url)
        watcher = TapWatcher(self.dataplane, cfg.tap_poll)
        watcher.start()
        log.info(
            "agent %s (tunnel %s, mode %s) starting; servers %s",
            cfg.host,
            cfg.tunnel_ip,
            cfg.mode.value,
            ", ".join(cfg.servers),
        )
        try:
            await self.view.read()
        except DataplaneError as exc:
            log.error("cannot read the kernel at start: %s (the repair retries)", exc)
        self.ready.set()
        bodies: dict[str, Callable[[], Awaitable[None]]] = {
            "sync": self._sync_forever,
            "taps": lambda: self._taps_forever(watcher),
            "repair": self._repair_forever,
            "reporter": reporter.run,
            "announce": announcer.run,
        }
        tasks = [
            asyncio.create_task(supervise(name, body, cfg.backoff), name=f"agent-{name}")
            for name, body in bodies.items()
        ]
        try:
            await self._stop.wait()
        finally:
            log.info("agent %s stopping; kernel and port status left as they are", cfg.host)
            for task in tasks:
                task.cancel()
            if reloading is not None:
                reloading.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.view.drain()
            await watcher.stop()
            await api.aclose()
            if endpoint is not None:
                endpoint.close()
            # Like every dataplane call, off the loop: pyroute2's IPRoute.close() runs an
            # event loop of its own and fails inside a running one.
            await asyncio.to_thread(self.dataplane.close)

    # --- list + watch -----------------------------------------------------------------

    async def _sync_forever(self) -> None:
        api = self._require_api()
        self._backoff.reset()
        self._failures = 0
        reason: str | None = "start"
        while True:
            if reason is not None:
                if not await self._try_list(reason):
                    await asyncio.sleep(self._backoff.next_delay())
                    continue
                reason = None
                self._backoff.reset()
            try:
                if await self._watch_once():
                    continue  # a healthy stream ended: open it again at once
                log.warning("watch on %s ended without a line", api.url)
            except GoneError as exc:
                log.warning("watch from %d: %s: listing again", self.held.revision, exc)
                reason = "gone"
                continue
            except Relist as exc:
                reason = exc.reason
                continue
            except WatchLineTooLong as exc:
                self.metrics.bad_input.labels("line").inc()
                log.error("watch on %s: %s: listing again", api.url, exc)
                reason = "bad_line"
                continue
            except ServerUnreachableError as exc:
                log.warning("watch on %s broke: %s (kernel kept as is)", api.url, exc)
            except (AuthError, ForbiddenError) as exc:
                log.error("server %s refused this host's token: %s", api.url, exc)
                self._reload_token()
            except ValidationError as exc:
                # 400: our revision is ahead of that server (it lags, or lost history).
                log.warning("watch on %s rejected: %s: listing again", api.url, exc)
                reason = "rejected"
                continue
            except L2popError as exc:  # e.g. 404: this host is not registered (any more)
                log.error("watch on %s refused: %s", api.url, exc)
            finally:
                self.metrics.server_connected.set(0)
            self._failures += 1
            api.fail_over()
            if self._failures % api.url_count == 0:
                # A whole round of servers failed: back off before the next round.
                await asyncio.sleep(self._backoff.next_delay())

    def _reload_token(self) -> None:
        """After a 401/403: the admin may have issued a new token into the token file."""
        path = self.config.token_file
        if path is None:
            return
        try:
            token = path.read_text().strip()
        except OSError as exc:
            log.error("cannot read the token file %s: %s", path, exc)
            return
        if token and token != self._token:
            self._token = token
            self._require_api().set_token(token)
            log.warning("token file %s changed: using the new token", path)

    async def _try_list(self, reason: str) -> bool:
        api = self._require_api()
        try:
            listing = await api.list_state()
        except ValidationError as exc:
            self.metrics.bad_input.labels("state").inc()
            log.error("bad /state from %s: %s (kernel kept as is)", api.url, exc)
            api.fail_over()
            return False
        except L2popError as exc:
            log.warning("cannot list state (%s): %s (kernel kept as is)", reason, exc)
            if isinstance(exc, AuthError | ForbiddenError):
                self._reload_token()
            return False
        async with self._lock:
            self.held = Held.listed(listing.revision, listing.state, listing.ports)
            self.metrics.relists.labels(reason).inc()
            self.metrics.last_revision.set(listing.revision)
            log.info(
                "listed revision %d from %s (%s): %d networks, %d entries, %d ports",
                listing.revision,
                api.url,
                reason,
                len(listing.state.networks),
                listing.state.entry_count(),
                len(self.held.ports),
                extra={"revision": listing.revision},
            )
            self.view.stale = True  # a list is followed by a full read + reconcile
            await self._reconcile(None)
            self._report_statuses()
        self.listed.set()
        self._applied()
        return True

    async def _watch_once(self) -> bool:
        """One watch stream until it ends; True if it delivered at least one line."""
        api = self._require_api()
        got_line = False
        async with api.watch_batches(self.held.revision, self.config.watch_idle_timeout) as batches:
            self._opened_streams += 1
            self._intake.new_stream()
            if self._opened_streams > 1:
                self.metrics.watch_reconnects.inc()
            self.metrics.server_connected.set(1)
            self._failures = 0
            self._backoff.reset()
            revision = self.held.revision
            log.info(
                "watching %s from revision %d", api.url, revision, extra={"revision": revision}
            )
            async for lines in batches:
                got_line = True
                await self._on_lines(lines)
        return got_line

    async def _on_lines(self, lines: list[str]) -> None:
        """Apply a batch of lines to the held state, then reconcile what they touched, once."""
        async with self._lock:
            batch = Batch()
            try:
                for text in lines:
                    self._intake.take(self.held, text, batch)
            finally:
                if batch.changes:
                    await self._settle(batch)
                    self._applied()
            self.metrics.last_revision.set(self.held.revision)

    async def _settle(self, batch: Batch) -> None:
        """Reconcile the networks a batch touched; report the status its ports call for."""
        await self._reconcile(Scope(frozenset(batch.networks), frozenset(batch.vnis)))
        for port in batch.ports.values():
            status = None if port.deleted else status_to_report(port, self.view.taps)
            if status is not None:
                self._reporter.report(port.id, status)

    # --- kernel -----------------------------------------------------------------------

    async def _reconcile(self, scope: Scope | None) -> int | None:
        """Reconcile under the lock; how many ops were applied, or None when the
        dataplane failed (logged, and a full resync follows soon)."""
        ops = await self._reconcile_ops(scope)
        return None if ops is None else len(ops)

    async def _reconcile_ops(self, scope: Scope | None) -> list[Op] | None:
        """:meth:`_reconcile`, returning the ops themselves."""
        try:
            ops = await self.view.reconcile(self.held, scope)
        except DataplaneError as exc:
            log.error("dataplane refused an operation: %s; full resync soon", exc)
            self._repair_now.set()
            return None
        if ops:
            log.info(
                "applied %d ops (%s)",
                len(ops),
                "full" if scope is None else "delta",
                extra={"revision": self.held.revision},
            )
        await self._sync_allowlist()
        return ops

    async def _sync_allowlist(self) -> None:
        if self._allowlist is not None and not await self._allowlist.sync(self.held.state):
            self._repair_now.set()

    async def _repair_forever(self) -> None:
        backoff = Backoff(self.config.backoff)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._repair_now.wait(), self.config.resync_interval)
            self._repair_now.clear()
            if not self.listed.is_set():
                continue  # never repair toward a state we have not listed
            async with self._lock:
                # A tap that appeared since the last read is news its event is about
                # to bring (the repair's read merely saw it first), not drift.
                known_taps = frozenset(self.view.taps)
                self.view.stale = True
                ops = await self._reconcile_ops(None)
                self._report_statuses()
            count = sum(
                1
                for op in ops or ()
                if not (isinstance(op, AttachTap) and op.tap not in known_taps)
            )
            if count:
                self.metrics.drift_repairs.inc()
                log.warning("drift repair: the kernel differed, %d ops applied", count)
            if self._repair_now.is_set():
                # This pass failed and asked for another: not in a tight loop.
                await asyncio.sleep(backoff.next_delay())
            else:
                backoff.reset()

    def repair_soon(self) -> None:
        """Ask for a drift repair now (tests, and after failures)."""
        self._repair_now.set()

    def _report_statuses(self) -> None:
        for port_id, status in statuses_to_report(self.held.ports.values(), self.view.taps).items():
            self._reporter.report(port_id, status)

    # --- taps -------------------------------------------------------------------------

    async def _taps_forever(self, watcher: TapWatcher) -> None:
        while True:
            event = await watcher.queue.get()
            async with self._lock:
                await self._on_tap(event)

    async def _on_tap(self, event: TapEvent) -> None:
        if not event.present:
            self.view.tap_gone(event.tap)
        else:
            self.view.taps.add(event.tap)
        port = self.held.port_of_tap(event.tap)
        if port is None or not self.listed.is_set():
            return  # not a port of ours (yet): a port record arriving later handles it
        if not event.present:
            log.info("tap %s of port %s gone", event.tap, port.id, extra={"port_id": port.id})
            self._reporter.report(port.id, PortStatus.DOWN)
            return
        log.info("tap %s of port %s appeared", event.tap, port.id, extra={"port_id": port.id})
        attached = await self._reconcile(Scope(frozenset({port.network_id}))) is not None
        if attached and port.admin_state_up:
            self._reporter.report(port.id, PortStatus.ACTIVE)

    def _applied(self) -> None:
        if self._announcer is not None:
            self._announcer.poke()

    # --- explain's endpoint (DESIGN.md §5) ---------------------------------------------

    async def _held_json(self) -> dict[str, Any]:
        """The held state; read on the loop between two lines, so never half applied."""
        state = self.held.state
        return encode_held(self.config.host, self.held.revision, self.config.mode, state.networks)

    async def _kernel_json(self) -> dict[str, Any]:
        """A live read of the kernel objects this agent owns (under the lock: the
        dataplane takes one call at a time)."""
        async with self._lock:
            networks = await self.view.live()
        return encode_kernel(self.config.host, self.config.mode, networks)

    def _require_api(self) -> HostApi:
        assert self._api is not None, "run() sets the API client"
        return self._api
