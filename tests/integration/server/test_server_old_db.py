"""A database written by the previous release (27c26e4) opens and serves unchanged.

``data/old-27c26e4.db`` was written by that release's own server through its
API (``data/make_old_db.py``), and ``data/old-27c26e4.json`` holds what it
answered then. Today's server must answer the same, keep the old ports'
address rules (no subnets), and allocate around the old addresses once a
subnet is added to an old network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from harness.net import free_port
from harness.servers import ServerProc, ok

DATA = Path(__file__).resolve().parent / "data"


def _hosts(answer: dict[str, Any]) -> list[dict[str, Any]]:
    # Liveness (last report, alive) is kept in memory, not in the database.
    return [
        {k: v for k, v in h.items() if k not in ("alive", "last_seen")} for h in answer["hosts"]
    ]


def test_a_database_of_the_previous_release_serves_unchanged(tmp_path: Path) -> None:
    old = json.loads((DATA / "old-27c26e4.json").read_text())
    server = ServerProc(tmp_path, old["admin_token"], free_port())
    shutil.copy(DATA / "old-27c26e4.db", server.db)
    server.start()
    try:
        with server.client() as http:
            assert ok(http.get("/v2.0/networks"))["networks"] == old["networks"]
            assert ok(http.get("/v2.0/ports"))["ports"] == old["ports"]
            assert _hosts(ok(http.get("/v1/hosts"))) == _hosts(old["hosts"])
            for host, state in old["state"].items():
                assert ok(http.get(f"/v1/hosts/{host}/state")) == state
            # Old host tokens still work.
            mine = http.get("/v1/hosts/h1/state", headers={"X-Auth-Token": old["tokens"]["h1"]})
            assert mine.status_code == 200
            assert ok(http.get("/v2.0/subnets"))["subnets"] == []
            net_a = next(n for n in old["networks"] if n["name"] == "old-a")
            # No subnets: any explicit address, none chosen for the caller.
            body = {"port": {"network_id": net_a["id"], "fixed_ips": [{"ip_address": "10.9.9.9"}]}}
            assert ok(http.post("/v2.0/ports", json=body), 201)["port"]["fixed_ips"] == [
                {"ip_address": "10.9.9.9"}
            ]
            # A subnet added to an old network: IPAM skips the old ports' addresses.
            pools = [{"start": "10.0.0.5", "end": "10.0.0.7"}]
            subnet = {"network_id": net_a["id"], "cidr": "10.0.0.0/24", "allocation_pools": pools}
            ok(http.post("/v2.0/subnets", json={"subnet": subnet}), 201)
            port = ok(http.post("/v2.0/ports", json={"port": {"network_id": net_a["id"]}}), 201)
            assert [ip["ip_address"] for ip in port["port"]["fixed_ips"]] == ["10.0.0.7"]
    finally:
        server.stop()
