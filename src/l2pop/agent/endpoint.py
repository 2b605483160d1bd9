"""The agent's read-only HTTP endpoint: ``/metrics``, ``/held`` and ``/kernel``.

Served by a small threaded WSGI server on ``--metrics-port``. ``/held`` is the
desired state the agent holds (revision, per network flood/unicast/neigh);
``/kernel`` is a live read of the kernel objects the agent owns (only its
kinds of entries, read through the dataplane). Both come from the agent's
event loop (:class:`Sources`), so a reader never sees a half-applied line.

Nothing secret is served, but the kernel read shows the host's forwarding
tables: bind it to a management address (``--metrics-addr``), not to the
tenants' side.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

__all__ = ["ANSWER_TIMEOUT_S", "AgentEndpoint", "Sources"]

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 5.0
JSON = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the JSON answers come from: coroutines run on ``loop``."""

    loop: asyncio.AbstractEventLoop
    held: Callable[[], Coroutine[Any, Any, JSON]]
    kernel: Callable[[], Coroutine[Any, Any, JSON]]


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Threading6(_Threading):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would fill the agent's log."""


class AgentEndpoint:
    """Serves until :meth:`close`; ``port`` is the bound port (0 picks one)."""

    def __init__(
        self, registry: CollectorRegistry, sources: Sources, port: int, addr: str = "0.0.0.0"
    ) -> None:
        self._metrics = make_wsgi_app(registry)
        self._sources = sources
        # An IPv6 management address (an IPv6 underlay) needs an AF_INET6 socket.
        family = _Threading6 if ":" in addr else _Threading
        self._server = make_server(addr, port, self._app, server_class=family, handler_class=_Quiet)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="agent-endpoint", daemon=True
        )
        self._thread.start()
        log.info("metrics and explain endpoint on http://%s:%d/", addr, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        routes = {"/held": self._sources.held, "/kernel": self._sources.kernel}
        source = routes.get(path)
        if source is None:
            answer: Iterable[bytes] = self._metrics(environ, start_response)
            return answer
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _json(start_response, "405 Method Not Allowed", {"error": "read-only"})
        future = asyncio.run_coroutine_threadsafe(source(), self._sources.loop)
        try:
            body = future.result(ANSWER_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            return _json(start_response, "503 Service Unavailable", {"error": "agent busy"})
        except Exception as exc:  # the read failed: say why, as explain shows it
            return _json(start_response, "500 Internal Server Error", {"error": str(exc)})
        return _json(start_response, "200 OK", body)


def _json(start_response: StartResponse, status: str, body: JSON) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
    ]
    start_response(status, headers)
    return [data]
