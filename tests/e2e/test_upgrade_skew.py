"""Upgrades without a flag day, on the namespace lab with the real kernel: release 0.1.0
(commit 27c26e4, installed in its own venv with packaging/constraints.txt) and this tree,
mixed both ways, TLS off.

1. this server, one 0.1.0 agent and one new agent: VMs on both hosts ping each other;
2. the server downgraded to 0.1.0 on the same database (migrated by this version: the
   schema marker is additive), agents swapped (new on host1, 0.1.0 on host2): VMs booted
   after the swap (so the agents must program them) ping each other and the old VMs.

The 0.1.0 venv is cached under ``.cache/`` keyed by the constraints' hash: a re-run does
not reinstall it; a fresh CI clone pays one pip install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from l2pop.lab import Fabric
from l2pop.lab.controlplane import ControlPlane, l2pop_command

pytestmark = [pytest.mark.netns, pytest.mark.slow]

RELEASE = "27c26e4"
RELEASE_VERSION = "0.1.0"
ROOT = Path(__file__).resolve().parents[2]
# The old release must import its own code, never this tree's (a PYTHONPATH would win).
CLEAN_ENV = ["env", "-u", "PYTHONPATH"]


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def release_venv() -> Path:
    """The venv of release 0.1.0: built once per constraints file, then reused."""
    found = run(["git", "-C", str(ROOT), "cat-file", "-e", f"{RELEASE}^{{commit}}"])
    if found.returncode != 0:
        pytest.fail(
            f"release commit {RELEASE} is not in this clone's history ({found.stderr.strip()}): "
            "the upgrade test needs it; fetch the full history (git fetch --unshallow)"
        )
    constraints = ROOT / "packaging" / "constraints.txt"
    key = hashlib.sha256(constraints.read_bytes() + RELEASE.encode()).hexdigest()[:16]
    cache = ROOT / ".cache" / f"l2pop-{RELEASE_VERSION}-{key}"
    venv, done = cache / "venv", cache / "installed"
    with locked(cache / ".lock"):
        if not done.exists():
            shutil.rmtree(venv, ignore_errors=True)
            shutil.rmtree(cache / "src", ignore_errors=True)
            (cache / "src").mkdir(parents=True)
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", RELEASE], capture_output=True, check=True
            )
            subprocess.run(
                ["tar", "-x", "-C", str(cache / "src")], input=archive.stdout, check=True
            )
            made = run([sys.executable, "-m", "venv", str(venv)])
            assert made.returncode == 0, made.stderr
            pip = [*CLEAN_ENV, str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            installed = run([*pip, "-c", str(constraints), str(cache / "src")], timeout=900)
            assert installed.returncode == 0, installed.stderr[-3000:]
            done.write_text(RELEASE + "\n")
    version = run([*CLEAN_ENV, str(venv / "bin" / "l2pop"), "--version"])
    assert version.stdout.strip() == f"l2pop {RELEASE_VERSION}", version
    return venv


def start_old_agent(cp: ControlPlane, host: str, old: list[str]) -> None:
    """0.1.0's agent with the flags 0.1.0 has (the lab's start_agent adds newer ones)."""
    lab_host = cp.fabric.host(host)
    token = cp.host_tokens.get(host) or cp.register_host(host)
    argv = [*old, "agent", "--host", host, "--tunnel-ip", lab_host.tunnel_ip(False),
            "--server", cp.inner_url, "--token-file", str(token), "--mode", "proxy",
            "--interface", lab_host.uplink]  # fmt: skip
    cp.agents[host] = cp.fabric.start(f"agent-{host}", lab_host.netns, argv)


def ping_all(fabric: Fabric, vms: dict[str, str]) -> None:
    for source in vms:
        for target, ip in vms.items():
            if source != target:
                result = fabric.ping(source, ip, count=3, timeout=2.0)
                assert result.ok, (source, target, result)


def log_of(fabric: Fabric, name: str) -> str:
    return (fabric.workdir / f"{name}.log").read_text(errors="replace")


def test_old_and_new_agents_and_servers_interoperate(make_fabric: Callable[..., Fabric]) -> None:
    old = [*CLEAN_ENV, str(release_venv() / "bin" / "l2pop")]
    new = l2pop_command()
    fabric = make_fabric(["host1", "host2"])

    # 1. This server; host1 runs 0.1.0's agent, host2 this agent.
    cp = ControlPlane.start(fabric, tls=False)  # 0.1.0 has no TLS
    try:
        assert httpx.get(cp.url + "/healthz").headers.get("L2pop-Protocol") == "2"
        net = cp.create_network("skew", 100)
        start_old_agent(cp, "host1", old)
        cp.agent_command = [*new, "agent"]
        cp.start_agent("host2")
        cp.boot_vm("a", "host1", net, ipv4="198.51.100.1")
        cp.boot_vm("b", "host2", net, ipv4="198.51.100.2")
        ping_all(fabric, {"a": "198.51.100.1", "b": "198.51.100.2"})
        cp.stop_agents()
        cp.server.stop()
        tokens = dict(cp.host_tokens)
    finally:
        cp.close()
    server_log = log_of(fabric, "server")
    assert "refused" not in server_log  # no 426: the old agent (no header) was served

    # 2. The same database served by 0.1.0; the agents swapped.
    cp = ControlPlane.start(fabric, tls=False, command=old, name="server-old")
    cp.host_tokens.update(tokens)  # the hosts are registered in the database already
    try:
        assert "L2pop-Protocol" not in httpx.get(cp.url + "/healthz").headers
        cp.agent_command = [*new, "agent"]
        cp.start_agent("host1")
        start_old_agent(cp, "host2", old)
        cp.boot_vm("c", "host1", net, ipv4="198.51.100.3")
        cp.boot_vm("d", "host2", net, ipv4="198.51.100.4")
        ping_all(fabric, {"a": "198.51.100.1", "b": "198.51.100.2",
                          "c": "198.51.100.3", "d": "198.51.100.4"})  # fmt: skip
        cp.stop_agents()
    finally:
        cp.close()
    assert "Traceback" not in log_of(fabric, "server-old")
    for host in ("host1", "host2"):
        assert "Traceback" not in log_of(fabric, f"agent-{host}")
    assert os.path.exists(fabric.workdir / "l2pop.db")
