"""One replica's in-memory view: the records, the core Snapshot and the tokens.

The view is fed only by the store's committed change stream (its own writes
included) and turns each change record into core events: ``step_all`` gives
the next Snapshot and the per-host deltas at once, never a recomputation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from l2pop.core import (
    Delta,
    Event,
    HostDeleted,
    HostUpserted,
    NetworkDeleted,
    NetworkUpserted,
    Port,
    PortDeleted,
    PortUpserted,
    RemoteDeleted,
    RemoteEndpoint,
    RemoteUpserted,
    Snapshot,
    step_all,
)
from l2pop.core.wire import encode_host_port
from l2pop.server.records import (
    GATEWAY,
    HOST,
    NETWORK,
    PORT,
    RD_INDEX,
    REMOTE,
    SUBNET,
    host_of,
    network_of,
    port_like,
    port_of,
)
from l2pop.server.store.base import JSON, ChangeRecord, Loaded, ResourceChange, StoredRecord
from l2pop.server.subnet_index import SubnetIndex

__all__ = ["Applied", "View", "events_of", "host_ports_of"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What one revision did to each host: its delta and its changed ports."""

    revision: int
    deltas: dict[str, Delta]
    ports: dict[str, list[JSON]] = field(default_factory=dict)

    def hosts(self) -> set[str]:
        return set(self.deltas) | set(self.ports)


# Port values by id() of their record image, within one change record: the
# events and the per-host port lists need the same Port, validated once.
_Ports = dict[int, Port]


def _port(image: JSON, memo: _Ports) -> Port:
    port = memo.get(id(image))
    if port is None:
        port = memo[id(image)] = port_of(image)
    return port


def _event(
    kind: str, key: str, image: JSON | None, other: JSON | None, memo: _Ports
) -> Event | None:
    """The core event that makes the snapshot hold ``image`` (None: deleted)."""
    if kind == NETWORK:
        return NetworkDeleted(key) if image is None else NetworkUpserted(network_of(image))
    if kind == PORT:
        if image is None:
            assert other is not None
            return PortDeleted(other["network_id"], key)
        return PortUpserted(_port(image, memo))
    if kind == HOST:
        return HostDeleted(key) if image is None else HostUpserted(host_of(image))
    if kind == REMOTE:
        if image is None:
            assert other is not None
            return RemoteDeleted(other["network_id"], key)
        return RemoteUpserted(RemoteEndpoint.from_record(image))
    return None


def events_of(
    changes: Iterable[ResourceChange], *, undo: bool = False, memo: _Ports | None = None
) -> list[Event]:
    """Core events of a change record; ``undo`` gives the events that revert it."""
    ports: _Ports = {} if memo is None else memo
    if undo:
        pairs = [(c.kind, c.key, c.before, c.after) for c in reversed(list(changes))]
    else:
        pairs = [(c.kind, c.key, c.after, c.before) for c in changes]
    events = [_event(kind, key, image, other, ports) for kind, key, image, other in pairs]
    return [e for e in events if e is not None]


def host_ports_of(
    changes: Iterable[ResourceChange], memo: _Ports | None = None
) -> dict[str, list[JSON]]:
    """Per host, the encoded ports bound to it whose record changed.

    A port that left the host (unbound, moved, deleted) is sent to its old
    host with ``"deleted": true``: it is no longer that host's port.
    """
    ports: _Ports = {} if memo is None else memo
    out: dict[str, list[JSON]] = {}
    for change in changes:
        if change.kind != PORT:
            continue
        after_host = change.after["binding:host_id"] if change.after else ""
        before_host = change.before["binding:host_id"] if change.before else ""
        if after_host and change.after is not None:
            out.setdefault(after_host, []).append(encode_host_port(_port(change.after, ports)))
        if before_host and before_host != after_host and change.before is not None:
            port = _port(change.before, ports)
            out.setdefault(before_host, []).append(encode_host_port(port, deleted=True))
    return out


class View:
    """Records + Snapshot at ``revision``; waiters for read-your-writes."""

    def __init__(self, loaded: Loaded) -> None:
        self.revision = loaded.revision
        self.records: dict[str, dict[str, StoredRecord]] = {
            kind: dict(loaded.records.get(kind, {}))
            for kind in (NETWORK, PORT, HOST, SUBNET, REMOTE, GATEWAY, RD_INDEX)
        }
        # Lists, not generators: Snapshot.build iterates its networks twice.
        self.snapshot = Snapshot.build(
            [network_of(r.value) for r in self.records[NETWORK].values()],
            [host_of(r.value) for r in self.records[HOST].values()],
            [port_of(r.value) for r in self.records[PORT].values()],
            [RemoteEndpoint.from_record(r.value) for r in self.records[REMOTE].values()],
        )
        self.tokens: dict[str, str] = {
            r.value["token_hash"]: name for name, r in self.records[HOST].items()
        }
        # Per network: MAC -> port id and fixed IP -> port id, so that a port
        # write checks its uniqueness in O(its addresses), not O(the network).
        self._macs: dict[str, dict[str, str]] = {}
        self._ips: dict[str, dict[str, str]] = {}
        for key, stored in self.records[PORT].items():
            self._index_port(key, stored.value)
        self.subnets = SubnetIndex(
            (r.value for r in self.records[SUBNET].values()),
            (r.value for r in self.records[PORT].values()),
        )
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def get(self, kind: str, key: str) -> StoredRecord | None:
        return self.records[kind].get(key)

    def port(self, port_id: str) -> Port | None:
        """The snapshot's port ``port_id`` (validated when it was stored)."""
        stored = self.records[PORT].get(port_id)
        if stored is None:
            return None
        net = self.snapshot.networks.get(stored.value["network_id"])
        return None if net is None else net.ports.get(port_id)

    def port_with_mac(self, network_id: str, mac: str) -> str | None:
        """The id of the port of ``network_id`` that has ``mac`` (canonical), if any."""
        return self._macs.get(network_id, {}).get(mac)

    def port_with_ip(self, network_id: str, ip: str) -> str | None:
        """The id of the port of ``network_id`` that has fixed IP ``ip`` (canonical), if any."""
        return self._ips.get(network_id, {}).get(ip)

    def macs_in_use(self, network_id: str) -> Collection[str]:
        return self._macs.get(network_id, {}).keys()

    def _index_port(self, port_id: str, record: JSON) -> None:
        net = record["network_id"]
        self._macs.setdefault(net, {})[record["mac_address"]] = port_id
        ips = self._ips.setdefault(net, {})
        for item in record["fixed_ips"]:
            ips[item["ip_address"]] = port_id

    def _unindex_port(self, port_id: str, record: JSON) -> None:
        net = record["network_id"]
        macs, ips = self._macs.get(net, {}), self._ips.get(net, {})
        if macs.get(record["mac_address"]) == port_id:
            del macs[record["mac_address"]]
        for item in record["fixed_ips"]:
            if ips.get(item["ip_address"]) == port_id:
                del ips[item["ip_address"]]
        if not macs:
            self._macs.pop(net, None)
        if not ips:
            self._ips.pop(net, None)

    def values(self, kind: str) -> Iterator[JSON]:
        return (r.value for r in self.records[kind].values())

    def apply(self, record: ChangeRecord) -> Applied:
        """Advance to ``record``; revisions at or below the current one are ignored."""
        if record.revision <= self.revision:
            return Applied(record.revision, {})
        memo: _Ports = {}
        for change in record.changes:
            if change.kind == PORT and change.after is not None:
                memo[id(change.after)] = port_like(change.after, self.port(change.key))
        self.snapshot, deltas = step_all(self.snapshot, events_of(record.changes, memo=memo))
        for change in record.changes:
            self._apply_record(change, record.revision)
        self.revision = record.revision
        self._wake()
        return Applied(record.revision, deltas, host_ports_of(record.changes, memo))

    def _apply_record(self, change: ResourceChange, revision: int) -> None:
        table = self.records.get(change.kind)
        if table is None:
            return
        if change.kind == HOST and change.before is not None:
            self.tokens.pop(change.before["token_hash"], None)
        if change.kind == PORT:
            if change.before is not None:
                self._unindex_port(change.key, change.before)
            if change.after is not None:
                self._index_port(change.key, change.after)
            self.subnets.put_port(change.before, change.after)
        if change.kind == SUBNET:
            if change.after is not None:
                self.subnets.put_subnet(change.after)
            elif change.before is not None:
                self.subnets.delete_subnet(change.before)
        if change.after is None:
            table.pop(change.key, None)
            return
        table[change.key] = StoredRecord(change.after, revision)
        if change.kind == HOST:
            self.tokens[change.after["token_hash"]] = change.key

    async def wait_for(self, revision: int) -> None:
        """Return once the view reached ``revision`` (immediately for SQLite)."""
        if self.revision >= revision:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, future))
        await future

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep = []
        for revision, future in self._waiters:
            if revision <= self.revision:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((revision, future))
        self._waiters = keep
