"""Fixtures for end-to-end tests on a namespace fabric (real kernel, real processes).

``make_fabric(hosts)`` builds a :class:`l2pop.lab.Fabric` whose files (logs,
captures) go to the test's ``tmp_path`` and which is torn down after the test,
pass or fail; the teardown is checked: nothing of the run may remain in
``ip netns list`` or ``ip -br link``. ``fabric`` is the three-host default.

``make_overlay(hosts, mode)`` adds the real control plane: ``l2pop server`` in
the control namespace and one ``l2pop agent`` per host (see :class:`Overlay`).

Tests that use these fixtures must be marked ``@pytest.mark.netns``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from l2pop.dataplane.base import bridge_name, vxlan_name
from l2pop.lab import Fabric, LabVM
from l2pop.lab.controlplane import ControlPlane
from l2pop.lab.measure import vtep_tables
from l2pop.lab.registry import lab_links, lab_namespaces

MakeFabric = Callable[..., Fabric]
JSON = dict[str, Any]


@dataclass
class Overlay:
    """A fabric with the server and an agent on every host."""

    fabric: Fabric
    cp: ControlPlane

    def network(self, name: str, vni: int) -> JSON:
        return self.cp.create_network(name, vni)

    def boot(
        self, name: str, host: str, network: JSON, ipv4: str, ipv6: str | None = None
    ) -> LabVM:
        return self.cp.boot_vm(name, host, network, ipv4=ipv4, ipv6=ipv6)

    def entries(self, host: str, network: JSON) -> tuple[list[str], list[str]]:
        """(FDB lines with a dst, neighbour lines) of ``network`` on ``host``."""
        vni = int(network["provider:segmentation_id"])
        return vtep_tables(self.fabric, host, vxlan_name(vni), bridge_name(str(network["id"])))


MakeOverlay = Callable[..., Overlay]


@pytest.fixture
def make_fabric(tmp_path: Path) -> Iterator[MakeFabric]:
    """A factory: ``make_fabric(5)`` or ``make_fabric(["hv1", "hv2"])``; extra keyword
    arguments go to :class:`Fabric`. Every fabric it made is torn down after the test."""
    built: list[Fabric] = []
    with ExitStack() as stack:

        def make(hosts: int | Sequence[str] = 3, **kwargs: object) -> Fabric:
            workdir = tmp_path / f"lab{len(built)}"
            fabric = stack.enter_context(Fabric(hosts, workdir=workdir, **kwargs))  # type: ignore[arg-type]
            built.append(fabric)
            return fabric

        yield make
    for fabric in built:
        left = lab_namespaces(fabric.prefix) + lab_links(fabric.prefix)
        assert left == [], f"lab run {fabric.prefix} left {left} behind"


@pytest.fixture
def fabric(make_fabric: MakeFabric) -> Fabric:
    """Three hosts (host1..host3) and the control namespace, no VMs yet."""
    return make_fabric(3)


@pytest.fixture
def make_overlay(make_fabric: MakeFabric) -> Iterator[MakeOverlay]:
    """A factory: ``make_overlay(3, mode="suppress")`` -> :class:`Overlay`."""
    with ExitStack() as stack:

        def make(hosts: int | Sequence[str] = 3, mode: str = "proxy") -> Overlay:
            fabric = make_fabric(hosts)
            cp = ControlPlane.start(fabric)
            stack.callback(cp.close)
            for host in fabric.hosts:
                cp.start_agent(host, mode=mode)
            return Overlay(fabric, cp)

        yield make
