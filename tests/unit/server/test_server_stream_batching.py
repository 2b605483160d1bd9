"""Watch lines published in one loop turn leave as one chunk per stream, in order.

Through the real service on SQLite: concurrent status reports are committed in
one group, their lines reach a stream joined into few chunks, every line is
there before its write is acknowledged, and a bookmark never overtakes a line
still queued. The transport writer frames chunks and cuts a client too far behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from l2pop.core import PortEvent
from l2pop.server.auth import AdminToken, Principal
from l2pop.server.metrics import Metrics
from l2pop.server.resources.hosts import HostOps
from l2pop.server.resources.networks import NetworkOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore
from l2pop.server.view import Applied
from l2pop.server.watch import Hub, Watches
from l2pop.server.watch.chunks import TransportWriter, chunk_writer

ADMIN = Principal(admin=True)


def _lines(chunk: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in chunk.splitlines() if line]


async def _concurrent_reports(db: Path, ports_per_host: int) -> None:
    service = await Service.open(SQLiteStore(db), AdminToken("a"), ServiceConfig(), Metrics())
    nets, ports = NetworkOps(service), PortOps(service)
    hosts = HostOps(service, ports)
    try:
        await hosts.register({"name": "h1", "tunnel_ip": "192.0.2.1"})
        await hosts.register({"name": "h2", "tunnel_ip": "192.0.2.2"})
        net = (await nets.create({"network": {"name": "n"}}))["id"]
        await ports.create({"port": {"network_id": net, "binding:host_id": "h1"}})
        ids = []
        for i in range(ports_per_host):
            ip = {"ip_address": f"198.51.100.{i + 1}"}
            body = {"network_id": net, "fixed_ips": [ip], "binding:host_id": "h2"}
            ids.append((await ports.create({"port": body}))["id"])
        chunks: list[bytes] = []
        opened = await Watches(service).open(ADMIN, "h1", str(service.view.revision), "admin")
        watcher = opened.watcher
        watcher.attach(lambda chunk: chunks.append(chunk) is None)
        seen_at_ack: dict[str, int] = {}

        async def report(port_id: str) -> None:
            record = await ports.set_status(port_id, PortEvent.DEVICE_UP)
            # Acknowledged: h1's line for this port is on the stream already.
            seen_at_ack[port_id] = sum(len(_lines(c)) for c in chunks)
            assert record["status"] == "ACTIVE"

        await asyncio.gather(*(report(i) for i in ids))
        lines = [line for chunk in chunks for line in _lines(chunk)]
        revisions = [line["revision"] for line in lines]
        assert len(lines) == ports_per_host  # one per activation of a peer's port
        assert revisions == sorted(set(revisions))
        assert len(chunks) < len(lines)  # joined: the reports were committed together
        macs = {
            u["mac"]
            for line in lines
            for n in line["networks"].values()
            for u in n["add"]["unicast"]
        }
        assert len(macs) == ports_per_host
        assert all(count >= 1 for count in seen_at_ack.values())
    finally:
        await service.close()


def test_concurrent_writes_reach_a_stream_in_few_chunks_before_their_ack(tmp_path: Path) -> None:
    asyncio.run(_concurrent_reports(tmp_path / "l2pop.db", ports_per_host=40))


def test_a_bookmark_never_overtakes_a_queued_line() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hub = Hub(bookmark_interval=0.0)
        watcher = hub.add("h1")
        got: list[bytes] = []
        watcher.attach(lambda chunk: got.append(chunk) is None)
        hub.publish(Applied(7, {}, {"h1": [{"id": "p1"}]}))
        assert got == []  # queued until the loop turns
        hub.bookmark_idle()  # e.g. the bookmark timer ran first in this turn
        await asyncio.sleep(0)
        return [line for chunk in got for line in _lines(chunk)]

    lines = asyncio.run(scenario())
    assert [(line["type"], line["revision"]) for line in lines] == [
        ("change", 7),
        ("bookmark", 7),
    ]


class _Transport:
    def __init__(self) -> None:
        self.data = b""
        self.closing = False
        self.unsent = 0
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.aborted = True


class _Cycle:
    """The attributes of uvicorn's RequestResponseCycle that the writer looks at."""

    def __init__(self, transport: object, chunked: bool) -> None:
        self.transport = transport
        self.chunked_encoding = chunked
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_transport_writer_frames_chunks_and_cuts_a_client_too_far_behind() -> None:
    transport = _Transport()
    cycle = _Cycle(transport, chunked=True)
    writer = chunk_writer(cycle.send, max_queued=100)
    assert isinstance(writer, TransportWriter)
    assert writer(b'{"a":1}\n')
    assert transport.data == b'8\r\n{"a":1}\n\r\n'
    transport.unsent = 101  # the client stopped reading
    assert not writer(b"x\n")
    writer.drop()  # the stream is cut: what is queued goes, with the connection
    assert transport.aborted
    assert not writer(b"y\n")
    assert writer.failed
    asyncio.run(writer.finish())
    assert cycle.sent == []  # nothing more is sent on a closed connection


def test_transport_writer_ends_the_body_through_the_server() -> None:
    cycle = _Cycle(_Transport(), chunked=True)
    writer = chunk_writer(cycle.send, max_queued=100)
    assert isinstance(writer, TransportWriter)
    asyncio.run(writer.finish())
    assert cycle.sent == [{"type": "http.response.body", "body": b"", "more_body": False}]


def test_no_transport_writer_without_chunked_encoding_or_a_transport() -> None:
    assert not isinstance(
        chunk_writer(_Cycle(_Transport(), chunked=False).send, 100), TransportWriter
    )
    assert not isinstance(chunk_writer(_Cycle(object(), chunked=True).send, 100), TransportWriter)

    async def plain_send(message: dict[str, Any]) -> None:
        del message

    assert not isinstance(chunk_writer(plain_send, 100), TransportWriter)


def test_a_stream_idle_for_nine_tenths_of_the_interval_gets_its_bookmark_now() -> None:
    # Checked every tenth of the interval: no gap may exceed the interval itself.
    hub = Hub(bookmark_interval=5.0)
    due, recent = hub.add("h1"), hub.add("h2")
    got: dict[str, list[bytes]] = {"h1": [], "h2": []}
    due.attach(lambda chunk: got["h1"].append(chunk) is None)
    recent.attach(lambda chunk: got["h2"].append(chunk) is None)
    now = time.monotonic()
    due.last_sent, recent.last_sent = now - 4.6, now - 4.0
    hub.bookmark_idle()
    assert [_lines(c)[0]["type"] for c in got["h1"]] == ["bookmark"]
    assert got["h2"] == []
