"""Helpers for the lab's own namespace tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from l2pop.lab import Fabric
from l2pop.lab.registry import lab_links, lab_namespaces
from l2pop.lab.shell import run

PORT_A = "a0a0a0a0-1111-4111-8111-000000000001"
PORT_B = "b0b0b0b0-2222-4222-8222-000000000002"


def leftovers(prefix: str) -> list[str]:
    """Anything of run ``prefix`` still visible from the root namespace."""
    netns = run(["ip", "netns", "list"]).stdout
    links = run(["ip", "-br", "link"]).stdout
    found = [line for line in (netns + links).splitlines() if prefix in line]
    return found + lab_namespaces(prefix) + lab_links(prefix)


@pytest.fixture
def fabric3(tmp_path: Path) -> Iterator[Fabric]:
    """Three hosts, VM a on host1 and VM b on host3 (taps down, not enslaved)."""
    with Fabric(3, workdir=tmp_path) as fabric:
        fabric.add_vm(
            "a",
            "host1",
            port_id=PORT_A,
            mac="fa:16:3e:00:00:0a",
            ipv4="198.51.100.10",
            ipv6="2001:db8:100::a",
        )
        fabric.add_vm(
            "b",
            "host3",
            port_id=PORT_B,
            mac="fa:16:3e:00:00:0b",
            ipv4="198.51.100.11",
            ipv6="2001:db8:100::b",
        )
        yield fabric
    assert leftovers(fabric.prefix) == []
