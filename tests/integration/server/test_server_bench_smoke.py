"""``l2pop bench server`` at a tiny size: it runs, and every change reaches every stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2pop.bench.server import run_bench, run_bench_on_etcd, run_plain_and_tls
from l2pop.bench.server_load import LoadConfig
from l2pop.bench.server_replicas import run_replicas_on_etcd


def test_bench_server_tiny_run_delivers_every_change(tmp_path: Path) -> None:
    cfg = LoadConfig(hosts=6, networks=2, ports=24, hosts_per_network=3, duration=1.0)
    result = run_bench(cfg, tmp_path, [])
    assert result["changes_acked"] > 10
    assert result["undelivered_after_10s"] == 0
    assert result["mean_fanout_hosts"] == 2.0
    assert result["ack_to_all_streams_ms"]["p99"] >= 0


def test_bench_server_paced_run_keeps_the_rate_and_counts_from_the_slot(tmp_path: Path) -> None:
    cfg = LoadConfig(hosts=6, networks=2, ports=24, hosts_per_network=3, duration=2.0, rate=20)
    result = run_bench(cfg, tmp_path, [])
    assert 30 <= result["changes_acked"] <= 41  # 20/s for 2 s, the first at t=0
    assert result["undelivered_after_10s"] == 0
    # A change is never counted from later than it was sent.
    assert result["scheduled_to_all_streams_ms"]["max"] >= result["send_to_all_streams_ms"]["max"]
    assert result["server_lines_per_stream_write"] >= 1.0


@pytest.mark.etcd
def test_bench_server_on_etcd_tiny_run_delivers_every_change(tmp_path: Path) -> None:
    cfg = LoadConfig(hosts=6, networks=2, ports=24, hosts_per_network=3, duration=1.0)
    result = run_bench_on_etcd(cfg, tmp_path, [], members=1)
    assert result["store"] == "etcd x1"
    assert result["changes_acked"] > 10
    assert result["undelivered_after_10s"] == 0
    # The yardstick ran on the same cluster with a port record's value size.
    assert result["raw_etcd"]["txns"] > 10
    assert result["raw_etcd"]["value_bytes"] > 100
    assert result["changes_per_s_vs_raw_etcd"] > 0


@pytest.mark.etcd
def test_bench_server_over_two_replicas_splits_streams_writers_and_cpu(tmp_path: Path) -> None:
    cfg = LoadConfig(hosts=6, networks=2, ports=24, hosts_per_network=3, duration=1.0)
    result = run_replicas_on_etcd(cfg, tmp_path, [], members=1, replicas=2)
    assert result["changes_acked"] > 10
    assert result["undelivered_after_10s"] == 0
    per = result["per_replica"]
    assert [p["writers"] for p in per] == [32, 32]
    assert sum(p["streams"] for p in per) == 6
    # The replica serving nothing still applied every change.
    assert result["observer_cpu_ms_per_change"] > 0


def test_bench_server_tls_runs_plain_then_https_and_compares(tmp_path: Path) -> None:
    cfg = LoadConfig(hosts=6, networks=2, ports=24, hosts_per_network=3, duration=1.0)
    result = run_plain_and_tls(cfg, tmp_path, [])
    assert (result["plain"]["tls"], result["tls"]["tls"]) == (False, True)
    for run in (result["plain"], result["tls"]):
        assert run["changes_acked"] > 10
        assert run["undelivered_after_10s"] == 0
    assert result["tls_over_plain"]["changes_per_s"] > 0


def test_bench_ipam_tiny_run_hands_out_distinct_addresses(tmp_path: Path) -> None:
    from l2pop.bench.ipam import run_ipam_bench

    result = run_ipam_bench(tmp_path, ports=200, sample=40, concurrency=4)
    assert result["ipam_ports"] == result["distinct_addresses"] == 200
    # The CPU figures of so few creates are mostly clock ticks: only their presence.
    assert set(result["rounds"]) == {"start", "at_200_ports"}
