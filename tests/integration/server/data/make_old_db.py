"""Write ``old-27c26e4.db`` and ``old-27c26e4.json`` with the previous release's code.

Run from a checkout of that release (it is not imported by the tests):

    git worktree add /tmp/old 27c26e4
    PYTHONPATH=/tmp/old/src .venv/bin/python tests/integration/server/data/make_old_db.py

It starts that release's ``l2pop server`` on a fresh database, creates
networks, ports (fixed IPs, address pairs, bindings) and hosts through the
API, reports ports ACTIVE, and records what the API answered; the test opens
the database with today's code and expects the same answers.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TOKEN = "old-admin-token"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    work = Path(tempfile.mkdtemp())
    (work / "token").write_text(TOKEN + "\n")
    port = _port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", "from l2pop.cli import main; main()", "server",
         "--db", str(work / "l2pop.db"), "--listen", f"127.0.0.1:{port}",
         "--admin-token-file", str(work / "token"), "--no-stream-writer"]
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        http = httpx.Client(base_url=url, headers={"X-Auth-Token": TOKEN})
        tokens = {}
        for name, tunnel in (("h1", "192.0.2.1"), ("h2", "192.0.2.2")):
            tokens[name] = http.post("/v1/hosts", json={"name": name, "tunnel_ip": tunnel}).json()[
                "token"
            ]
        nets = [
            http.post("/v2.0/networks", json={"network": body}).json()["network"]
            for body in ({"name": "old-a", "provider:segmentation_id": 100}, {"name": "old-b"})
        ]
        ports = [
            {"network_id": nets[0]["id"], "name": "vm1", "binding:host_id": "h1",
             "fixed_ips": [{"ip_address": "10.0.0.5"}, {"ip_address": "fd00::5"}]},
            {"network_id": nets[0]["id"], "name": "vm2", "binding:host_id": "h2",
             "fixed_ips": [{"ip_address": "10.0.0.6"}],
             "allowed_address_pairs": [{"ip_address": "10.0.0.100"}]},
            {"network_id": nets[1]["id"], "name": "vm3", "binding:host_id": "h1",
             "fixed_ips": [{"ip_address": "10.1.0.7"}], "mac_address": "fa:16:3e:00:01:07"},
            {"network_id": nets[1]["id"], "name": "idle"},
        ]  # fmt: skip
        created = [http.post("/v2.0/ports", json={"port": p}).json()["port"] for p in ports]
        for port_record in created[:3]:
            host = port_record["binding:host_id"]
            path = f"/v1/hosts/{host}/ports/{port_record['id']}/status"
            http.put(path, json={"status": "ACTIVE"}, headers={"X-Auth-Token": tokens[host]})
        answers = {
            "networks": http.get("/v2.0/networks").json()["networks"],
            "ports": http.get("/v2.0/ports").json()["ports"],
            "hosts": http.get("/v1/hosts").json(),
            "state": {h: http.get(f"/v1/hosts/{h}/state").json() for h in ("h1", "h2")},
            "tokens": tokens,
            "admin_token": TOKEN,
        }
    finally:
        server.terminate()
        server.wait(10)
    with sqlite3.connect(work / "l2pop.db") as conn:
        conn.execute("VACUUM")
    shutil.copy(work / "l2pop.db", HERE / "old-27c26e4.db")
    (HERE / "old-27c26e4.json").write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
