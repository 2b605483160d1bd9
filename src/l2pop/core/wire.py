"""JSON shapes of the host API (DESIGN.md §5), both directions: the one owner.

The server encodes ``/state`` and every watch line (change and bookmark)
with these functions and the agent decodes them with these functions, so
the two can never disagree on a field name. Decoding validates every address:
a malformed answer from a server raises :class:`~l2pop.errors.ValidationError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from l2pop.core.model import (
    Port,
    PortStatus,
    normalize_ip,
    normalize_mac,
    validate_mtu,
    validate_vni,
)
from l2pop.core.state import (
    EMPTY,
    Delta,
    Entries,
    HostState,
    Neigh,
    NetworkDelta,
    NetworkState,
    Unicast,
)
from l2pop.errors import ValidationError

__all__ = [
    "Bookmark",
    "HostPort",
    "LineCache",
    "UnknownLine",
    "WatchChange",
    "WatchLine",
    "bookmark_line",
    "decode_change",
    "decode_delta",
    "decode_entries",
    "decode_host_port",
    "decode_line",
    "decode_state",
    "encode_change",
    "encode_delta",
    "encode_entries",
    "encode_host_port",
    "encode_line",
    "encode_state",
    "reference_line",
]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HostPort:
    """A port as its host's agent sees it in ``/state`` and watch lines."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...]
    status: PortStatus
    admin_state_up: bool
    deleted: bool = False
    # MACs of its allowed address pairs: the agent must not send them to a peer.
    pair_macs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WatchChange:
    revision: int
    delta: Delta
    ports: tuple[HostPort, ...]


def encode_entries(entries: Entries) -> JSON:
    return {
        "flood": sorted(entries.flood),
        "unicast": [{"mac": u.mac, "vtep": u.vtep} for u in sorted(entries.unicast)],
        "neigh": [{"ip": n.ip, "mac": n.mac} for n in sorted(entries.neigh)],
    }


def encode_host_port(port: Port, *, deleted: bool = False) -> JSON:
    out: JSON = {
        "id": port.id,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "fixed_ips": [{"ip_address": ip} for ip in port.fixed_ips],
        "status": port.status.value,
        "admin_state_up": port.admin_state_up,
        "allowed_address_pairs": [
            {"ip_address": pair.ip_address, "mac_address": pair.mac_address or port.mac_address}
            for pair in port.allowed_address_pairs
        ],
    }
    if deleted:
        out["deleted"] = True
    return out


def encode_state(host: str, revision: int, state: HostState, ports: Iterable[Port]) -> JSON:
    networks = {
        net_id: {"vni": ns.vni, "mtu": ns.mtu, **encode_entries(ns.entries)}
        for net_id, ns in sorted(state.networks.items())
    }
    return {
        "host": host,
        "revision": revision,
        "ports": [encode_host_port(p) for p in ports],
        "networks": networks,
    }


def encode_delta(delta: Delta) -> JSON:
    out: JSON = {}
    for net_id, change in sorted(delta.networks.items()):
        if change.removed:
            out[net_id] = {"vni": change.vni, "mtu": change.mtu, "removed": True}
        else:
            out[net_id] = {
                "vni": change.vni,
                "mtu": change.mtu,
                "add": encode_entries(change.add),
                "remove": encode_entries(change.remove),
            }
    return out


def encode_change(revision: int, delta: Delta, ports: Iterable[JSON]) -> JSON:
    """One watch line; ``ports`` are already encoded (a deleted port carries ``deleted``)."""
    return {
        "type": "change",
        "revision": revision,
        "networks": encode_delta(delta),
        "ports": list(ports),
    }


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(where, value, "must be a JSON object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(where, value, "must be a JSON list")
    return value


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(where, value, "must be an integer")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(where, value, "must be true or false")
    return value


def decode_entries(obj: object) -> Entries:
    body = _obj(obj, "entries")
    # Comprehensions over lists, one item decoded by one call: an agent decodes every
    # entry of every line it gets, and most lists (a delta's "remove") are empty.
    raw = _list(body.get("flood", []), "flood")
    flood = frozenset([normalize_ip(v, "flood") for v in raw]) if raw else _NONE
    raw = _list(body.get("unicast", []), "unicast")
    unicast = frozenset([_unicast(u) for u in raw]) if raw else _NONE
    raw = _list(body.get("neigh", []), "neigh")
    neigh = frozenset([_neigh(n) for n in raw]) if raw else _NONE
    if not (flood or unicast or neigh):
        return EMPTY
    return Entries(flood, unicast, neigh)


_NONE: frozenset[Any] = frozenset()


def _unicast(item: object) -> Unicast:
    u = _obj(item, "unicast")
    return Unicast(
        normalize_mac(u.get("mac"), "unicast.mac"), normalize_ip(u.get("vtep"), "unicast.vtep")
    )


def _neigh(item: object) -> Neigh:
    n = _obj(item, "neigh")
    return Neigh(normalize_ip(n.get("ip"), "neigh.ip"), normalize_mac(n.get("mac"), "neigh.mac"))


def decode_host_port(obj: object) -> HostPort:
    body = _obj(obj, "port")
    port_id = body.get("id")
    net_id = body.get("network_id")
    if not isinstance(port_id, str) or not isinstance(net_id, str):
        raise ValidationError("port", obj, "id and network_id must be strings")
    ips = tuple(
        normalize_ip(_obj(ip, "fixed_ips").get("ip_address"), "fixed_ips.ip_address")
        for ip in _list(body.get("fixed_ips", []), "fixed_ips")
    )
    try:
        status = PortStatus(str(body.get("status")))
    except ValueError:
        raise ValidationError("status", body.get("status"), "not a port status") from None
    return HostPort(
        id=port_id,
        network_id=net_id,
        mac_address=normalize_mac(body.get("mac_address")),
        fixed_ips=ips,
        status=status,
        admin_state_up=_bool(body.get("admin_state_up", True), "admin_state_up"),
        deleted=_bool(body.get("deleted", False), "deleted"),
        pair_macs=frozenset(
            normalize_mac(
                _obj(pair, "allowed_address_pairs").get("mac_address"),
                "allowed_address_pairs.mac_address",
            )
            for pair in _list(body.get("allowed_address_pairs", []), "allowed_address_pairs")
        ),
    )


def decode_state(obj: object) -> tuple[int, HostState, tuple[HostPort, ...]]:
    """``/state`` body -> (revision, state, ports)."""
    body = _obj(obj, "state")
    revision = _int(body.get("revision"), "revision")
    networks: dict[str, NetworkState] = {}
    for net_id, raw in _obj(body.get("networks", {}), "networks").items():
        net = _obj(raw, f"networks.{net_id}")
        networks[net_id] = NetworkState(
            validate_vni(net.get("vni"), "vni"), validate_mtu(net.get("mtu")), decode_entries(net)
        )
    ports = tuple(decode_host_port(p) for p in _list(body.get("ports", []), "ports"))
    return revision, HostState(networks), ports


def decode_delta(obj: object) -> Delta:
    changes: dict[str, NetworkDelta] = {}
    for net_id, raw in _obj(obj, "networks").items():
        net = _obj(raw, f"networks.{net_id}")
        vni = validate_vni(net.get("vni"), "vni")
        mtu = validate_mtu(net.get("mtu"))
        if net.get("removed"):
            changes[net_id] = NetworkDelta(vni, mtu, removed=True)
        else:
            add = decode_entries(net.get("add", {}))
            remove = decode_entries(net.get("remove", {}))
            changes[net_id] = NetworkDelta(vni, mtu, add=add, remove=remove)
    return Delta(changes)


def decode_change(obj: object) -> WatchChange:
    """A ``{"type": "change"}`` watch line -> :class:`WatchChange`."""
    body = _obj(obj, "change")
    if body.get("type") != "change":
        raise ValidationError("type", body.get("type"), 'a change line has "type": "change"')
    revision = _int(body.get("revision"), "revision")
    delta = decode_delta(body.get("networks", {}))
    ports = tuple(decode_host_port(p) for p in _list(body.get("ports", []), "ports"))
    return WatchChange(revision, delta, ports)


# -- watch lines as bytes: the server's encoder, the agent's decoder ------------
#
# ``encode_change`` above is the reference shape. The server encodes a line
# per interested host per revision, so it uses :func:`encode_line`, which
# gives the same bytes (``tests/property/test_wire_lines.py`` checks it) but
# encodes each distinct network part once: within one revision, hosts that
# publish nothing of the change share the very same ``add``/``remove``
# Entries objects (the core builds them once), so fan-out to N hosts costs N
# string joins, not N JSON encodings.

# A memo for one revision's lines: keyed by object identity, so it must not
# outlive the objects it was filled from (one publish, one replay).
LineCache = dict[tuple[object, ...], str]


def _dumps(value: object) -> str:
    """Compact JSON (orjson: the text of ``json.dumps(separators=(",", ":"),
    ensure_ascii=False)``)."""
    return orjson.dumps(value).decode()


def _fragment(change: NetworkDelta, cache: LineCache) -> str:
    key = (id(change.add), id(change.remove), change.vni, change.mtu, change.removed)
    cached = cache.get(key)
    if cached is not None:
        return cached
    if change.removed:
        body: JSON = {"vni": change.vni, "mtu": change.mtu, "removed": True}
    else:
        body = {
            "vni": change.vni,
            "mtu": change.mtu,
            "add": encode_entries(change.add),
            "remove": encode_entries(change.remove),
        }
    text = cache[key] = _dumps(body)
    return text


def encode_line(
    revision: int, delta: Delta | None, ports: Iterable[JSON], cache: LineCache | None = None
) -> bytes:
    """One change line, newline included: the bytes of :func:`reference_line`, faster."""
    memo: LineCache = {} if cache is None else cache
    networks = ""
    if delta is not None and delta.networks:
        # The core shares one Delta between hosts with the same changes.
        key: tuple[object, ...] = ("delta", id(delta))
        cached = memo.get(key)
        if cached is None:
            cached = memo[key] = ",".join(
                f"{_dumps(net_id)}:{_fragment(change, memo)}"
                for net_id, change in sorted(delta.networks.items())
            )
        networks = cached
    port_list = list(ports)
    ports_text = _dumps(port_list) if port_list else "[]"
    return (
        f'{{"type":"change","revision":{revision},"networks":{{{networks}}},'
        f'"ports":{ports_text}}}\n'
    ).encode()


def reference_line(revision: int, delta: Delta | None, ports: Iterable[JSON]) -> bytes:
    """:func:`encode_change` as a line, by the standard library: what ``encode_line`` gives."""
    body = encode_change(revision, delta or Delta({}), ports)
    return (json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def bookmark_line(revision: int) -> bytes:
    """``{"type": "bookmark", "revision": N}`` as a line."""
    return f'{{"type":"bookmark","revision":{revision}}}\n'.encode()


@dataclass(frozen=True, slots=True)
class Bookmark:
    revision: int


@dataclass(frozen=True, slots=True)
class UnknownLine:
    """A well-formed line of a type this reader does not know (a newer server)."""

    kind: str


WatchLine = WatchChange | Bookmark | UnknownLine


def decode_line(text: str | bytes) -> WatchLine:
    """One NDJSON watch line; ValidationError when it is not one a reader can trust."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        raise ValidationError("watch line", _shown(text), "not JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("watch line", _shown(text), "not a JSON object")
    kind = body.get("type")
    if kind == "change":
        return decode_change(body)
    if kind == "bookmark":
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise ValidationError("bookmark.revision", revision, "must be an integer >= 0")
        return Bookmark(revision)
    if isinstance(kind, str):
        return UnknownLine(kind)
    raise ValidationError("watch line type", kind, "missing or not a string")


def _shown(text: str | bytes) -> str:
    return (text.decode(errors="replace") if isinstance(text, bytes) else text)[:200]
