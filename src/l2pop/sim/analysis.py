"""Join what the driver sent with what the agents applied, after a run.

The changes are replayed through the core in the order of their store
revisions (the order the server applied them), giving for every revision
the exact set of hosts that had to hear about it and the delta each had to
get. Every watch line an agent applied is then checked against that, and
each change's convergence time is the moment its last interested host
applied it, minus the moment the API acknowledged it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from l2pop.core import Delta, Network, Port
from l2pop.sim.models import l2pop_messages
from l2pop.sim.trace import (
    Action,
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    Fabric,
    MigratePort,
    PortAction,
    Replay,
)
from l2pop.sim.tracker import ChangeRecord, LineRecord, RelistRecord, Tracker

__all__ = ["ChangeOutcome", "RunAnalysis", "analyse", "percentile", "summarize_ms"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(values[-1], 2),
        "mean_ms": round(sum(values) / len(values), 2),
    }


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    change: ChangeRecord
    phase: str
    expected_hosts: int
    messages: int  # watch lines that carried this revision
    applied_hosts: int  # hosts that applied it: by its line, or by listing after it
    nbytes: int
    network_hosts: int  # hosts with a bound port on the port's network, after
    latency_s: float | None  # None: some interested host never applied it
    # from the request sent (not its answer) to the last interested host applying it:
    # the API round trip and the server's work included
    from_send_s: float | None = None


@dataclass(slots=True)
class RunAnalysis:
    outcomes: list[ChangeOutcome] = field(default_factory=list)
    missing: int = 0  # (revision, host) pairs expected but never applied
    unexpected: int = 0  # lines to hosts that had nothing to learn
    mismatched: int = 0  # lines whose networks/entry counts differ from the core's delta
    unresolved: int = 0  # changes whose revision is unknown (relist or timeout)
    failed: int = 0  # API calls that failed
    examples: list[str] = field(default_factory=list)  # the first faults, for the report

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def _server_action(
    action: Action, port_ids: Mapping[str, str], net_ids: Mapping[str, str]
) -> PortAction:
    """``action`` with the server's ids in place of the trace's."""
    match action:
        case CreatePort(port_id, network_id, mac, ips):
            return CreatePort(port_ids[port_id], net_ids[network_id], mac, ips)
        case BindPort(port_id, host):
            return BindPort(port_ids[port_id], host)
        case MigratePort(port_id, host):
            return MigratePort(port_ids[port_id], host)
        case ActivatePort(port_id):
            return ActivatePort(port_ids[port_id])
        case DeletePort(port_id):
            return DeletePort(port_ids[port_id])
    raise ValueError(f"not a port action: {action!r}")


def _order(changes: Sequence[ChangeRecord]) -> list[ChangeRecord]:
    """Changes in revision order; those without one go after everything acked before them."""
    known = sorted((c for c in changes if c.revision is not None), key=lambda c: c.t_ack or 0.0)
    acks = [c.t_ack or 0.0 for c in known]
    running_max: list[int] = []
    for change in known:
        assert change.revision is not None
        running_max.append(max(change.revision, running_max[-1] if running_max else 0))

    def key(change: ChangeRecord) -> tuple[float, float]:
        if change.revision is not None:
            return (float(change.revision), 0.0)
        i = bisect.bisect_right(acks, change.t_ack or change.t_send)
        base = running_max[i - 1] if i else 0
        return (base + 0.5, change.t_send)

    return sorted((c for c in changes if c.t_ack is not None), key=key)


def _line_shape(delta: Delta) -> dict[str, int]:
    return {
        net_id: -1 if nd.removed else len(nd.add) + len(nd.remove)
        for net_id, nd in delta.networks.items()
    }


def _apply_time(
    host: str,
    change: ChangeRecord,
    lines: Mapping[str, Mapping[int, LineRecord]],
    relists: Mapping[str, list[RelistRecord]],
) -> float | None:
    assert change.revision is not None
    line = lines.get(host, {}).get(change.revision)
    if line is not None:
        return line.t_apply
    # A listing at or past the change's revision holds it, even when the list was sent
    # before the change (a host restarting while a peer's port changes): the watch then
    # resumes past it and its line never comes.
    for relist in relists.get(host, []):
        if relist.revision >= change.revision:
            return relist.t_done
    return None


def analyse(
    fabric: Fabric,
    trace: Sequence[Action],
    tracker: Tracker,
    port_ids: Mapping[str, str],
    net_ids: Mapping[str, str],
    phase_of: Mapping[int, str],
) -> RunAnalysis:
    server_fabric = Fabric(
        fabric.hosts,
        tuple(Network(net_ids[n.id], n.vni, n.name, n.mtu) for n in fabric.networks),
    )
    replay = Replay(server_fabric)
    relists: dict[str, list[RelistRecord]] = {}
    for relist in tracker.relists:
        relists.setdefault(relist.host, []).append(relist)
    out = RunAnalysis(failed=sum(1 for c in tracker.changes if c.t_ack is None))
    for change in _order(tracker.changes):
        action = _server_action(trace[change.index], port_ids, net_ids)
        port_id = action.port_id
        old = replay.port(port_id) if replay.has_port(port_id) else None
        deltas = replay.play(action)
        new: Port | None = replay.port(port_id) if replay.has_port(port_id) else None
        if isinstance(action, CreatePort):
            continue
        if change.revision is None:
            out.unresolved += 1
            continue
        _judge(out, change, phase_of, deltas, (old, new), tracker.lines, relists, replay)
    return out


def _judge(
    out: RunAnalysis,
    change: ChangeRecord,
    phase_of: Mapping[int, str],
    deltas: Mapping[str, Delta],
    ports: tuple[Port | None, Port | None],
    lines: Mapping[str, Mapping[int, LineRecord]],
    relists: Mapping[str, list[RelistRecord]],
    replay: Replay,
) -> None:
    assert change.revision is not None
    expected = l2pop_messages(deltas, ports)
    actual = {h for h, by_rev in lines.items() if change.revision in by_rev}
    out.unexpected += len(actual - expected)
    for host in sorted(actual - expected)[:2]:
        out.note(f"r{change.revision} {change.kind}: unexpected line to {host}")
    times: list[float] = []
    complete = True
    nbytes = 0
    for host in expected | actual:
        line = lines.get(host, {}).get(change.revision)
        if line is not None:
            nbytes += line.nbytes
            want = _line_shape(deltas.get(host, Delta()))
            if host in expected and dict(line.networks) != want:
                out.mismatched += 1
                out.note(
                    f"r{change.revision} {change.kind} {host}: got {line.networks} want {want}"
                )
        at = _apply_time(host, change, lines, relists)
        if at is None:
            out.missing += 1
            out.note(f"r{change.revision} {change.kind}: {host} never applied it")
            complete = False
        else:
            times.append(at)
    port = ports[1] or ports[0]
    assert port is not None
    net = replay.snapshot.networks.get(port.network_id)
    network_hosts = 0 if net is None else len(net.bound)
    latency = from_send = None
    if complete and change.t_ack is not None:
        latency = max(0.0, max(times, default=change.t_ack) - change.t_ack)
        from_send = max(0.0, max(times, default=change.t_ack) - change.t_send)
    out.outcomes.append(
        ChangeOutcome(
            change,
            phase_of.get(change.index, "churn"),
            len(expected),
            len(actual),
            len(times),
            nbytes,
            network_hosts,
            latency,
            from_send,
        )
    )
