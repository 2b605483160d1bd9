"""Fixtures for end-to-end tests on a namespace fabric (real kernel, real processes).

``make_fabric(hosts)`` builds a :class:`l2pop.lab.Fabric` whose files (logs,
captures) go to the test's ``tmp_path`` and which is torn down after the test,
pass or fail; the teardown is checked: nothing of the run may remain in
``ip netns list`` or ``ip -br link``. ``fabric`` is the three-host default.

Tests that use these fixtures must be marked ``@pytest.mark.netns``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from l2pop.lab import Fabric
from l2pop.lab.registry import lab_links, lab_namespaces

MakeFabric = Callable[..., Fabric]


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
