"""The workload generator: deterministic, well-formed traces, heavy-tailed network sizes."""

from __future__ import annotations

import pytest

from l2pop.sim.trace import (
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    MigratePort,
    Replay,
    RestartAgent,
)
from l2pop.sim.workload import WorkloadConfig, generate


def test_same_seed_gives_the_same_trace_and_another_seed_another() -> None:
    config = WorkloadConfig(hosts=20, networks=5, ports=100, events=100, seed=3)
    assert generate(config).trace == generate(config).trace
    other = WorkloadConfig(hosts=20, networks=5, ports=100, events=100, seed=4)
    assert generate(other).trace != generate(config).trace


def test_populate_phase_boots_every_port_create_bind_activate() -> None:
    workload = generate(WorkloadConfig(hosts=10, networks=3, ports=50, events=0))
    kinds = [type(a) for a in workload.trace]
    assert kinds == [CreatePort, BindPort, ActivatePort] * 50
    assert workload.changes() == 150


def test_every_action_is_legal_for_the_port_it_names() -> None:
    workload = generate(WorkloadConfig(hosts=20, networks=6, ports=80, events=400, seed=11))
    replay = Replay(workload.fabric)
    hosts = {h.name for h in workload.fabric.hosts}
    for action in workload.trace:
        match action:
            case CreatePort(port_id):
                assert not replay.has_port(port_id)
            case BindPort(port_id, host):
                assert replay.has_port(port_id)
                assert host in workload.spans[replay.port(port_id).network_id]
            case MigratePort(port_id, host):
                span = workload.spans[replay.port(port_id).network_id]
                # a one-host network can only migrate out of its span
                assert host in span or len(span) == 1
                assert host != replay.port(port_id).host
            case ActivatePort(port_id) | DeletePort(port_id):
                assert replay.has_port(port_id)
            case RestartAgent(host):
                assert host in hosts
        replay.play(action)


def test_churn_mixes_every_operation_kind() -> None:
    workload = generate(WorkloadConfig(hosts=20, networks=6, ports=50, events=300, seed=2))
    kinds = {type(a) for a in workload.trace}
    assert kinds == {CreatePort, BindPort, ActivatePort, DeletePort, MigratePort, RestartAgent}


def test_network_spans_are_heavy_tailed_most_small_some_large() -> None:
    workload = generate(WorkloadConfig(hosts=1000, networks=400, ports=0, events=0, seed=5))
    sizes = sorted(len(span) for span in workload.spans.values())
    assert sizes[len(sizes) // 2] <= 3  # the median network is small
    assert sizes[-1] >= 50  # and the largest spans many hosts


def test_max_span_caps_network_size() -> None:
    config = WorkloadConfig(hosts=100, networks=100, ports=0, events=0, max_span=4, seed=5)
    assert max(len(s) for s in generate(config).spans.values()) <= 4


@pytest.mark.parametrize("bad", [{"hosts": 1}, {"networks": 0}, {"span_alpha": 0.0}])
def test_nonsense_configurations_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        WorkloadConfig(**bad)  # type: ignore[arg-type]
