"""The memory bench's loader against a real server: every port loaded, RSS read."""

from __future__ import annotations

import pytest

from l2pop.sim.memory import MemoryConfig, measure_memory

pytestmark = pytest.mark.timeout(90)


def test_memory_load_creates_every_port_active_and_reads_the_servers_rss() -> None:
    config = MemoryConfig(hosts=10, ports=100, networks=5, concurrency=8, load_time_limit_s=60)
    result = measure_memory(config)
    assert result["ports_loaded"] == 100
    assert result["watch_streams"] == 10
    assert result["server_rss_mib_loaded"] >= result["server_rss_mib_idle"] > 10
    curve = result["rss_curve_ports_mib"]
    assert [point[0] for point in curve] == list(range(5, 101, 5))
