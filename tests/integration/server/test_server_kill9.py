"""kill -9 during a stream of writes: every write that got a 2xx is there after restart."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from harness.servers import ServerProc, ok

WRITERS = 4
RUN_BEFORE_KILL_S = 1.5


def _writer(server: ServerProc, net_id: str, n: int, acked: list[dict[str, object]]) -> None:
    """Create ports and flip their binding until the server dies; keep what was acknowledged."""
    with server.client() as api:
        for i in range(100_000):
            body = {"port": {"network_id": net_id, "name": f"w{n}-{i}"}}
            try:
                response = api.post("/v2.0/ports", json=body)
                if response.status_code != 201:
                    return
                port = response.json()["port"]
                acked.append(port)
                update = {"port": {"binding:host_id": f"h{n}"}}
                response = api.put(f"/v2.0/ports/{port['id']}", json=update)
                if response.status_code != 200:
                    return
                acked.append(response.json()["port"])
            except httpx.HTTPError:
                return


def test_every_acknowledged_write_survives_kill_9(server: ServerProc) -> None:
    with server.client() as api:
        net = ok(api.post("/v2.0/networks", json={"network": {"name": "k9"}}), 201)["network"]
    acked: list[list[dict[str, object]]] = [[] for _ in range(WRITERS)]
    threads = [
        threading.Thread(target=_writer, args=(server, net["id"], n, acked[n]))
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(RUN_BEFORE_KILL_S)
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=30)
    acknowledged = [port for writer in acked for port in writer]
    assert len(acknowledged) > 20, "the writers did not get going before the kill"

    server.start()
    with server.client() as api:
        stored = {p["id"]: p for p in ok(api.get("/v2.0/ports"))["ports"]}
    for port in acknowledged:
        assert port["id"] in stored, f"acknowledged port {port['id']} lost"
        survivor = stored[port["id"]]
        assert survivor["revision_number"] >= port["revision_number"]
        if port["binding:host_id"]:
            assert survivor["binding:host_id"] == port["binding:host_id"]
