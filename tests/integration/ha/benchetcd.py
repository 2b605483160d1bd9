"""``l2pop bench server`` against an etcd-backed replica (not a test; run by hand).

``l2pop bench server`` starts a SQLite server itself; for etcd this starts a
real etcd cluster (``MEMBERS``, default 3) and one ``l2pop server --etcd``
replica, then runs the same bench against it with ``--url``::

    .venv/bin/python tests/integration/ha/benchetcd.py /tmp/bench-etcd [bench options]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from etcdcluster import etcd_cluster
from replicas import Replica


def main(workdir: Path, bench_args: list[str]) -> int:
    members = int(os.environ.get("MEMBERS", "3"))
    with etcd_cluster(workdir / "etcd", size=members) as cluster:
        token = "admin-" + os.urandom(8).hex()
        replica = Replica(workdir / "replica", cluster.endpoints, "/bench/", token)
        replica.start(["--log-level", "warning"])
        try:
            assert replica.process is not None
            command = [
                sys.executable, "-c", "from l2pop.cli import main; main()", "bench", "server",
                "--url", replica.url, "--token-file", str(replica.workdir / "admin.token"),
                "--pid", str(replica.process.pid), *bench_args,
            ]  # fmt: skip
            return subprocess.run(command, check=False).returncode
        finally:
            replica.stop()


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), sys.argv[2:]))
