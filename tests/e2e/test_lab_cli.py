"""`l2pop lab up | status | down`: a lab kept up for exploration, then removed."""

from __future__ import annotations

import re
import ssl
import subprocess

import httpx
import pytest

from l2pop.lab.controlplane import l2pop_command
from l2pop.lab.registry import DEFAULT_STATE_DIR, lab_links, lab_namespaces, remove_run
from l2pop.lab.shell import run

pytestmark = pytest.mark.netns


def l2pop(*args: str) -> str:
    done = subprocess.run(
        [*l2pop_command(), *args], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_lab_up_stays_up_until_lab_down_removes_everything() -> None:
    out = l2pop("lab", "up", "--hosts", "2")
    match = re.search(r"lab (l2pl[0-9a-f]{4}) left up", out)
    assert match, out
    prefix = match.group(1)
    try:
        status = l2pop("lab", "status")
        # underlay, control, 2 hosts, 8 VMs
        assert f"{prefix}: kept up, 12 namespace(s)" in status
        url = re.search(rf"(?s){prefix}.*?server_url: (\S+)", status)
        ca_file = re.search(rf"(?s){prefix}.*?ca_file: (\S+)", status)
        assert url
        assert ca_file, status  # the lab runs HTTPS with its own CA
        assert url.group(1).startswith("https://")
        verify = ssl.create_default_context(cafile=ca_file.group(1))
        assert httpx.get(url.group(1) + "/healthz", timeout=5, verify=verify).status_code == 200
        ping = run(["ping", "-c", "1", "-W", "2", "198.51.100.16"], netns=f"{prefix}-vm-a")
        assert "1 received" in ping.stdout
        assert f"kept {prefix}" in l2pop("lab", "clean")  # clean leaves a lab kept up alone
        assert f"removed {prefix}" in l2pop("lab", "down", prefix)
        assert lab_namespaces(prefix) == []
        assert lab_links(prefix) == []
        assert prefix not in l2pop("lab", "status")
    finally:
        remove_run(prefix, DEFAULT_STATE_DIR)


def test_lab_down_refuses_what_is_not_a_lab_prefix() -> None:
    done = subprocess.run(
        [*l2pop_command(), "lab", "down", "eth0"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "not a lab prefix" in done.stdout + done.stderr
