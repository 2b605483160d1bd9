"""JSON of what an agent serves to explain: its held state and a live read of its kernel.

``GET /held`` and ``GET /kernel`` on the agent's metrics port (beside
``/metrics``) answer these shapes; explain decodes them back into the values
the stage logic compares. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from l2pop.core.model import normalize_ip, normalize_mac
from l2pop.core.state import NetworkState, Unicast
from l2pop.core.wire import decode_entries, encode_entries
from l2pop.dataplane.base import KernelNetwork, vxlan_name
from l2pop.errors import ValidationError
from l2pop.explain.facts import AgentHeld

__all__ = ["decode_held", "decode_kernel", "encode_held", "encode_kernel"]

JSON = dict[str, Any]


def encode_held(host: str, revision: int, mode: str, networks: Mapping[str, NetworkState]) -> JSON:
    return {
        "host": host,
        "revision": revision,
        "mode": mode,
        "networks": {
            net_id: {"vni": net.vni, "mtu": net.mtu, **encode_entries(net.entries)}
            for net_id, net in sorted(networks.items())
        },
    }


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(where, value, "must be a JSON object")
    return value


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(where, value, "must be an integer")
    return value


def decode_held(obj: object) -> AgentHeld:
    body = _obj(obj, "held")
    nets = _obj(body.get("networks", {}), "networks")
    return AgentHeld(
        revision=_int(body.get("revision"), "revision"),
        networks={str(k): decode_entries(v) for k, v in nets.items()},
    )


def encode_kernel(host: str, mode: str, networks: Mapping[int, KernelNetwork]) -> JSON:
    return {
        "host": host,
        "mode": mode,
        "networks": {
            str(vni): {
                "device": vxlan_name(vni),
                "bridge": net.bridge,
                "mtu": net.mtu,
                "local_ip": net.local_ip,
                "proxy": net.proxy,
                **encode_entries(net.entries),
                "partial": [{"mac": u.mac, "vtep": u.vtep} for u in sorted(net.partial)],
                "taps": sorted(net.taps),
                "sound": net.sound,
            }
            for vni, net in sorted(networks.items())
        },
    }


def _half(item: object) -> Unicast:
    """A half-present unicast entry; vtep "" when only the ``master static`` half is there."""
    body = _obj(item, "partial")
    vtep = body.get("vtep") or ""
    return Unicast(
        normalize_mac(body.get("mac"), "partial.mac"),
        normalize_ip(vtep, "partial.vtep") if vtep else "",
    )


def decode_kernel(obj: object) -> dict[int, KernelNetwork]:
    body = _obj(obj, "kernel")
    out: dict[int, KernelNetwork] = {}
    for key, raw in _obj(body.get("networks", {}), "networks").items():
        net = _obj(raw, f"networks.{key}")
        if not str(key).isdigit():
            raise ValidationError("networks", key, "keys must be VNIs")
        vni = int(key)
        partial = frozenset(_half(p) for p in net.get("partial", []))
        out[vni] = KernelNetwork(
            vni=vni,
            bridge=net.get("bridge"),
            mtu=_int(net.get("mtu", 0), "mtu"),
            local_ip=net.get("local_ip"),
            proxy=bool(net.get("proxy")),
            entries=decode_entries(net),
            taps=frozenset(str(t) for t in net.get("taps", [])),
            partial=partial,
            sound=bool(net.get("sound", True)),
        )
    return out
