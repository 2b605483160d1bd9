"""The nftables allowlist in real namespaces: VXLAN from unknown sources is dropped,
from known VTEPs delivered; updates are atomic rewrites and idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from l2pop.core.state import Entries, HostState, NetworkState, Unicast
from l2pop.dataplane.allowlist import Allowlist, known_vteps, nft_unavailable

pytestmark = pytest.mark.netns

# Tiny UDP sender/receiver run inside the namespaces: argv[1] source/bind address.
SEND = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"x", (sys.argv[2], 4789))
"""
RECV = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 4789))
s.settimeout(1.0)
print("ready", flush=True)
n = 0
try:
    while True:
        s.recv(100)
        n += 1
except TimeoutError:
    pass
print(n)
"""


def sh(netns: str, *argv: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    """Namespaces a (192.0.2.1, 2001:db8::1) and b (.2/.3, ::2/::3) joined by a veth."""
    tag = os.urandom(3).hex()
    a, b = f"l2p{tag}al", f"l2p{tag}bl"
    for ns in (a, b):
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    try:
        subprocess.run(
            [
                "ip",
                "-n",
                a,
                "link",
                "add",
                "ul0",
                "type",
                "veth",
                "peer",
                "name",
                "ul0",
                "netns",
                b,
            ],
            check=True,
            timeout=30,
        )
        for ns, hosts in ((a, ("1",)), (b, ("2", "3"))):
            for h in hosts:
                sh(ns, "ip", "addr", "add", f"192.0.2.{h}/24", "dev", "ul0")
                sh(ns, "ip", "addr", "add", f"2001:db8::{h}/64", "dev", "ul0", "nodad")
            sh(ns, "ip", "link", "set", "ul0", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)


def received(a: str, b: str, src: str, dst: str) -> int:
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", a, sys.executable, "-c", RECV, dst],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        sh(b, sys.executable, "-c", SEND, src, dst)
        out, _ = receiver.communicate(timeout=10)
    finally:
        receiver.kill()
    return int(out)


def test_nftables_works_in_a_namespace(pair: tuple[str, str]) -> None:
    assert nft_unavailable(pair[0]) is None


@pytest.mark.parametrize(("known", "unknown", "dst"), [
    ("192.0.2.2", "192.0.2.3", "192.0.2.1"),
    ("2001:db8::2", "2001:db8::3", "2001:db8::1"),
])  # fmt: skip
def test_vxlan_from_unknown_sources_is_dropped(
    pair: tuple[str, str], known: str, unknown: str, dst: str
) -> None:
    a, b = pair
    allow = Allowlist(netns=a)
    assert allow.apply({known})
    assert received(a, b, known, dst) == 3
    assert received(a, b, unknown, dst) == 0
    assert allow.dropped() == 3
    assert not allow.apply({known})  # unchanged set: nothing written
    assert allow.apply({known, unknown})
    assert received(a, b, unknown, dst) == 3
    allow.remove()
    allow.remove()
    assert "l2pop_allowlist" not in sh(a, "nft", "list", "tables")


def test_known_vteps_are_the_flood_and_unicast_targets() -> None:
    state = HostState({
        "n1": NetworkState(1, 1450, Entries(frozenset({"192.0.2.2"}), frozenset({Unicast("fa:16:3e:00:00:01", "192.0.2.9")}))),  # noqa: E501
        "n2": NetworkState(2, 1450, Entries(frozenset({"2001:db8::2"}))),
    })  # fmt: skip
    assert known_vteps(state) == {"192.0.2.2", "192.0.2.9", "2001:db8::2"}
    script = Allowlist().script(known_vteps(state))
    assert "elements = { 192.0.2.2, 192.0.2.9 }" in script
    assert "elements = { 2001:db8::2 }" in script
