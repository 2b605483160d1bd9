"""Watch clients that stop reading, against a real server process on real sockets.

What the hardening probe broke (issue 17, items 1 and 3) and the rule of
DESIGN §5 that a host holds at most two streams:

* a client with a small receive buffer that stops reading during a burst of
  status reports and then reads again catches up, or (past the queue
  bound) is cut: the connection ends, it never silently stalls; either way
  its stream is released (``l2pop_watchers`` back to 0);
* many clients that never read cost bounded memory: their streams are cut
  by bytes queued and counted, and released when they close;
* a third stream of a host ends that host's oldest.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from harness.rawwatch import RawWatch
from harness.servers import ServerProc, ok, running

LOAD_THREADS = 8
# Each busy port carries this many address pairs: a flip of its status is a
# line of ~4 KiB to every watcher, so a few seconds of load fill the kernel's
# socket buffers (autotuned up to 4 MiB on loopback) and then the server's queue.
PAIRS = 40
# 2,500 such lines (~10 MiB) overflow any socket buffer and the server's bound.
CUT_REPORTS = 2_500
MAX_BURST_S = 60.0


def _metric(server: ServerProc, name: str) -> float:
    with server.client() as api:
        text = api.get("/metrics").text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


def _wait_metric(server: ServerProc, name: str, want: float, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while (value := _metric(server, name)) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _head(server: ServerProc) -> int:
    with server.client() as api:
        return int(ok(api.get("/healthz"))["revision"])


def _world(server: ServerProc, watched: int, pairs: int = PAIRS) -> dict[str, Any]:
    """One network; a busy host with a port per load thread; ``watched`` hosts with a port."""
    with server.client() as api:
        net = ok(api.post("/v2.0/networks", json={"network": {"name": "n"}}), 201)["network"]
        names = ["busy", *(f"w{i}" for i in range(watched))]
        tokens = {}
        for i, name in enumerate(names):
            body = {"name": name, "tunnel_ip": f"192.0.2.{i + 1}"}
            tokens[name] = ok(api.post("/v1/hosts", json=body), 201)["token"]
        ports: dict[str, list[str]] = {name: [] for name in names}
        for i, name in enumerate(["busy"] * LOAD_THREADS + names[1:]):
            ip = f"10.0.{i // 250}.{i % 250 + 1}"
            body = {"network_id": net["id"], "fixed_ips": [{"ip_address": ip}]}
            if name == "busy":
                body["allowed_address_pairs"] = [
                    {
                        "ip_address": f"10.{i + 1}.{j}.1",
                        "mac_address": f"fa:16:3e:{i:02x}:{j:02x}:01",
                    }
                    for j in range(pairs)
                ]
            port = ok(
                api.post("/v2.0/ports", json={"port": {**body, "binding:host_id": name}}), 201
            )
            ports[name].append(port["port"]["id"])
    return {"tokens": tokens, "ports": ports}


@pytest.fixture
def load_stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def _start_load(server: ServerProc, world: dict[str, Any], stop: threading.Event) -> list[int]:
    """The busy host flips its ports ACTIVE/DOWN from several connections until ``stop``."""
    counts = [0] * LOAD_THREADS

    def flip(index: int) -> None:
        port_id = world["ports"]["busy"][index]
        path = f"/v1/hosts/busy/ports/{port_id}/status"
        with server.client(world["tokens"]["busy"]) as agent:
            while not stop.is_set():
                status = "ACTIVE" if counts[index] % 2 == 0 else "DOWN"
                try:
                    agent.put(path, json={"status": status}).raise_for_status()
                except httpx.HTTPError:
                    continue
                counts[index] += 1

    for index in range(LOAD_THREADS):
        threading.Thread(target=flip, args=(index,), daemon=True).start()
    return counts


def _burst(
    server: ServerProc,
    world: dict[str, Any],
    stop: threading.Event,
    seconds: float,
    reports: int = 0,
) -> int:
    """Load for ``seconds``, longer if needed for ``reports`` (a loaded machine is slow)."""
    counts = _start_load(server, world, stop)
    started = time.monotonic()
    while time.monotonic() - started < seconds or (
        sum(counts) < reports and time.monotonic() - started < MAX_BURST_S
    ):
        time.sleep(0.1)
    stop.set()
    time.sleep(0.3)  # the last reports in flight
    return sum(counts)


@pytest.mark.parametrize(
    ("max_queued", "pairs", "reports", "expect"),
    [
        (None, 0, 0, "catch-up"),
        (64 * 1024, PAIRS, CUT_REPORTS, "cut"),
        # ~16 MiB of lines: past the kernel's buffers and the default 4 MiB bound.
        (None, PAIRS, 2 * CUT_REPORTS, "cut"),
    ],
    ids=["small-lines-default-bound", "large-lines-64KiB-bound", "large-lines-default-bound"],
)
def test_a_client_that_stops_reading_then_reads_again_catches_up_or_is_cut(
    tmp_path: Path,
    load_stop: threading.Event,
    max_queued: int | None,
    pairs: int,
    reports: int,
    expect: str,
) -> None:
    extra = () if max_queued is None else ("--watch-max-queued", str(max_queued))
    with running(tmp_path, extra) as server:
        world = _world(server, watched=1, pairs=pairs)
        start = _head(server)
        watch = RawWatch(server.port, "w0", world["tokens"]["w0"], start, rcvbuf=4096)
        try:
            assert watch.read_until(start, timeout=10)  # the opening bookmark
            reports = _burst(server, world, load_stop, seconds=3.0, reports=reports)
            head = _head(server)
            assert reports > 100
            assert head > start + 100
            # Reading again: every line up to the head, or the end of the stream.
            caught_up = watch.read_until(head, timeout=30)
            outcome = "catch-up" if caught_up else "cut" if watch.ended else "stalled"
            dropped = _metric(server, "l2pop_watch_dropped_total")
            print(f"{reports} reports, head {head}, read to {watch.revision}: {outcome} "
                  f"({watch.ended or 'open'}), dropped {dropped}")  # fmt: skip
            assert outcome == expect
            assert dropped == (1.0 if expect == "cut" else 0.0)
            if expect == "catch-up":
                assert _wait_metric(server, "l2pop_watchers", 1.0) == 1.0
        finally:
            watch.close()
        # Closed (by the client, or cut by the server): the stream is released.
        assert _wait_metric(server, "l2pop_watchers", 0.0) == 0.0
        with server.client() as api:
            assert ok(api.get("/v1/hosts/w0"))["host"]["alive"] is False


def test_clients_that_never_read_cost_bounded_memory_and_are_cut(
    tmp_path: Path, load_stop: threading.Event
) -> None:
    max_queued = 64 * 1024
    hosts = 12
    with running(tmp_path, ("--watch-max-queued", str(max_queued))) as server:
        world = _world(server, watched=hosts)
        process = psutil.Process(server.process.pid if server.process else 0)
        start = _head(server)
        rss_before = process.memory_info().rss
        watches = [
            RawWatch(server.port, f"w{i}", world["tokens"][f"w{i}"], start, rcvbuf=4096)
            for i in range(hosts)
            for _ in range(2)  # two per host: the most a host may hold
        ]
        try:
            assert _wait_metric(server, "l2pop_watchers", 2.0 * hosts) == 2.0 * hosts
            reports = _burst(server, world, load_stop, seconds=3.0, reports=CUT_REPORTS)
            rss_peak = process.memory_info().rss
            dropped = _metric(server, "l2pop_watch_dropped_total")
        finally:
            for watch in watches:
                watch.close()
        assert _wait_metric(server, "l2pop_watchers", 0.0) == 0.0
        rss_after = process.memory_info().rss
        mib = 2**20
        print(f"{reports} reports to {2 * hosts} streams that never read: RSS "
              f"{rss_before / mib:.1f} -> {rss_peak / mib:.1f} -> {rss_after / mib:.1f} MiB "
              f"after close, {dropped:.0f} streams cut")  # fmt: skip
        assert dropped > 0
        # 24 streams may hold 24 x 64 KiB here; the probe saw 1 GB grow without bound.
        assert rss_peak - rss_before < 64 * mib
        assert rss_after <= rss_peak + 8 * mib


def test_a_third_stream_of_a_host_ends_its_oldest(server: ServerProc) -> None:
    with server.client() as api:
        token = ok(api.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"}), 201)
    start = _head(server)
    first, second, third = (RawWatch(server.port, "h1", token["token"], start) for _ in range(3))
    try:
        for watch in (first, second, third):
            assert watch.read_until(start, timeout=10)
        assert not first.read_until(start + 1, timeout=10)
        assert first.ended in ("last-chunk", "eof")  # a clean end: resume from its revision
        assert _wait_metric(server, "l2pop_watchers", 2.0) == 2.0
        assert _metric(server, "l2pop_watch_replaced_total") == 1.0
        # The two newest go on: both get the next change.
        with server.client() as api:
            ok(api.post("/v1/hosts", json={"name": "h2", "tunnel_ip": "192.0.2.2"}), 201)
            net = ok(api.post("/v2.0/networks", json={"network": {"name": "n"}}), 201)["network"]
            body = {"network_id": net["id"], "binding:host_id": "h1"}
            ok(api.post("/v2.0/ports", json={"port": body}), 201)
        head = _head(server)
        assert second.read_until(head, timeout=10)
        assert third.read_until(head, timeout=10)
    finally:
        for watch in (first, second, third):
            watch.close()
