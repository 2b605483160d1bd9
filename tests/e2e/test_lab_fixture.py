"""The e2e fixtures themselves: a fabric per test, gone afterwards."""

from __future__ import annotations

import pytest

from l2pop.lab import Fabric

from .conftest import MakeFabric

pytestmark = pytest.mark.netns


def test_fabric_fixture_gives_three_hosts_and_a_control_namespace(fabric: Fabric) -> None:
    assert sorted(fabric.hosts) == ["host1", "host2", "host3"]
    assert fabric.control is not None
    assert fabric.control.ipv4 == "192.0.2.254"


def test_make_fabric_builds_independent_runs(make_fabric: MakeFabric) -> None:
    one, two = make_fabric(["hv1"]), make_fabric(2)
    assert one.prefix != two.prefix
    assert one.host("hv1").ipv4 == two.host("host1").ipv4  # separate underlays
