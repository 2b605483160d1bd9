"""Run the server: open the store, serve HTTP with uvicorn, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from l2pop.errors import ValidationError
from l2pop.reloader import Reloader
from l2pop.sdnotify import Notifier
from l2pop.server.api.app import create_app
from l2pop.server.api.fastpath import AgentFastPath
from l2pop.server.api.guard import Guard
from l2pop.server.api.protocol_gate import RESPONSE_HEADERS, ProtocolGate
from l2pop.server.auth import AdminToken, load_admin_token, reload_admin_token
from l2pop.server.metrics import Metrics
from l2pop.server.process.gcpolicy import GcPolicy
from l2pop.server.process.tls import ServerTls, TlsFiles
from l2pop.server.process.tuning import InterpreterTuning
from l2pop.server.process.uvicorn_adapter import (
    ConnectionGuard,
    ConnectionLimits,
    GracefulServer,
    guarded_protocol,
)
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.base import DEFAULT_RETAIN, Store
from l2pop.server.store.schema import SchemaError
from l2pop.server.store.sqlite import SQLiteStore
from l2pop.server.store.sqlite_schema import check_sqlite_schema
from l2pop.server.watch import DEFAULT_MAX_QUEUED

__all__ = ["ServerOptions", "parse_listen", "parse_public_url", "parse_vni_range", "serve"]

log = logging.getLogger(__name__)
GRACEFUL_SHUTDOWN_S = 5


@dataclass(frozen=True, slots=True)
class ServerOptions:
    db: Path
    listen: str = "127.0.0.1:9696"
    admin_token_file: Path | None = None
    vni_range: tuple[int, int] = (1000, 1999)
    max_body: int = 1024 * 1024
    retain: int = DEFAULT_RETAIN
    bookmark_interval: float = 5.0
    access_log: bool = False
    watch_max_queued: int = DEFAULT_MAX_QUEUED
    gc: GcPolicy = field(default_factory=GcPolicy)
    public_url: str | None = None  # base of links hrefs (None: the socket's own address)
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)  # uvicorn_adapter.py
    keep_alive_timeout: int = 5  # idle keep-alive connections close after this many seconds
    status_rate: float = 100.0  # status reports per second and host (ratelimit.py; 0: off)
    status_burst: int = 2000
    tls: TlsFiles | None = None  # HTTPS only when set


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError("--listen", value, "expected HOST:PORT, e.g. 127.0.0.1:9696")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_public_url(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep or not rest.strip("/"):
        raise ValidationError("--public-url", value, "expected http(s)://HOST[:PORT][/PATH]")
    return value.rstrip("/")


def parse_vni_range(value: str) -> tuple[int, int]:
    low, sep, high = value.partition(":")
    if not sep or not low.isdigit() or not high.isdigit():
        raise ValidationError("--vni-range", value, "expected LOW:HIGH, e.g. 1000:1999")
    lo, hi = int(low), int(high)
    if not 1 <= lo <= hi <= 16_777_215:
        raise ValidationError("--vni-range", value, "need 1 <= LOW <= HIGH <= 16777215")
    return lo, hi


def serve(options: ServerOptions, store: Store | None = None) -> None:
    host, port = parse_listen(options.listen)
    admin, written = load_admin_token(options.admin_token_file, options.db)
    if written is not None:
        log.warning("admin token written to %s", written)
    if store is None:
        check_sqlite_schema(options.db)  # a newer, unreadable store: a clear error, exit 2
    backend: Store = store or SQLiteStore(options.db, retain=options.retain)
    config = ServiceConfig(
        vni_range=options.vni_range,
        bookmark_interval=options.bookmark_interval,
        status_rate=options.status_rate,
        status_burst=options.status_burst,
        watch_max_queued=options.watch_max_queued,
    )
    connections = ConnectionGuard(options.limits)
    services: list[Service] = []
    tuning = InterpreterTuning(options.gc)
    tls = ServerTls(options.tls) if options.tls is not None else None
    reloader = _reloader(tls, options.admin_token_file or written, admin)
    reloading: list[asyncio.Task[None]] = []

    async def open_service() -> Service:
        metrics = Metrics()
        connections.register(metrics.registry)
        try:
            service = await Service.open(backend, admin, config, metrics)
        except SchemaError as exc:
            log.critical("%s", exc)  # the one line to read above uvicorn's traceback
            raise
        shared = backend.shared
        if shared is not None:
            liveness = shared.liveness
            metrics.hosts_up.set_function(lambda: len(liveness.up_hosts()))
        else:
            metrics.hosts_up.set_function(service.hub.hosts_watching)
        services.append(service)
        # The view is loaded: freeze it out of the collector's full passes.
        tuning.start_gc_policy()
        reloading.append(reloader.start())
        scheme = "https" if tls is not None else "http"
        revision = service.view.revision
        log.info(
            "serving at revision %d on %s://%s:%d",
            revision,
            scheme,
            host,
            port,
            extra={"revision": revision},
        )
        return service

    def refused(version: int | None) -> None:
        if services:
            label = "invalid" if version is None else str(version)
            services[0].metrics.protocol_refused.labels(label).inc()

    notifier = Notifier()  # systemd's NOTIFY_SOCKET, when it runs us

    def ready() -> None:  # the store is open and the socket listens
        if services:
            revision = services[0].view.revision
            notifier.ready(f"serving on {host}:{port} at revision {revision}")

    async def before_shutdown() -> None:
        notifier.stopping()
        # The streams never end by themselves: end them, or shutdown waits.
        for service in services:
            service.end_streams()
        for task in reloading:
            task.cancel()
        await tuning.stop_gc_policy()

    api = create_app(open_service, options.max_body, options.public_url)
    app = ProtocolGate(
        Guard(
            AgentFastPath(api),
            lambda: getattr(api.state, "ctx", None),
            bind=tls is not None and tls.client_certificates,
        ),
        refused,
    )
    server = GracefulServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=options.access_log,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            lifespan="on",
            # The peer address is the TCP peer's: uvicorn would otherwise take
            # X-Forwarded-For from 127.0.0.1, and a host token on the server's own
            # machine could then pass any address as its own (agent endpoints).
            proxy_headers=False,
            http=guarded_protocol(connections),
            timeout_keep_alive=options.keep_alive_timeout,
            headers=RESPONSE_HEADERS,  # L2pop-Protocol on every answer
            # The live context itself (not files for uvicorn to read), so that a
            # reload into it reaches every handshake from then on.
            ssl_context_factory=None if tls is None else lambda _config, _default: tls.context,
        ),
        before_shutdown,
        ready,
    )
    with tuning:
        server.run()


def _reloader(tls: ServerTls | None, admin_file: Path | None, admin: AdminToken) -> Reloader:
    """What SIGHUP and a changed file re-read: the TLS files, the admin token file."""
    watched: list[tuple[list[Path], Callable[[], object]]] = []
    if tls is not None:
        watched.append((tls.files.paths, tls.reload))
    if admin_file is not None:
        watched.append(([admin_file], lambda: reload_admin_token(admin_file, admin)))
    return Reloader(watched)
