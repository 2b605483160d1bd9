"""The model: networks, hosts and ports as immutable, validated values.

Constructors validate; a value that exists is valid. Addresses are kept in
their canonical text form (lower-case colon MAC, compressed IPv6), so two
spellings of one address compare equal everywhere downstream.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from l2pop.errors import ValidationError

__all__ = [
    "DEFAULT_MTU",
    "MAX_VNI",
    "MIN_VNI",
    "AddressPair",
    "Host",
    "Network",
    "Port",
    "PortStatus",
    "is_single_address",
    "normalize_ip",
    "normalize_ip_or_cidr",
    "normalize_mac",
    "validate_mtu",
    "validate_vni",
]

MIN_VNI = 1
MAX_VNI = 16_777_215
DEFAULT_MTU = 1450
# 68 is the IPv4 minimum; 9000 minus the 50 bytes of VXLAN overhead is the
# largest overlay MTU a jumbo-frame underlay carries.
MIN_MTU = 68
MAX_MTU = 8950

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 address exactly as ipaddress prints it: no leading zeros, no spaces.
_CANONICAL_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


class PortStatus(StrEnum):
    """Port lifecycle states, Neutron's names. Only ACTIVE ports are published."""

    DOWN = "DOWN"
    BUILD = "BUILD"
    ACTIVE = "ACTIVE"


def normalize_mac(value: object, field_name: str = "mac_address") -> str:
    """Canonical lower-case colon form of a unicast MAC; raise otherwise."""
    if not isinstance(value, str):
        raise ValidationError(field_name, value, "must be a string like fa:16:3e:00:00:01")
    mac = value.strip().lower()
    if not _MAC_RE.match(mac):
        raise ValidationError(field_name, value, "not a MAC address (six hex octets)")
    mac = mac.replace("-", ":")
    if mac == "00:00:00:00:00:00":
        raise ValidationError(field_name, value, "the all-zero MAC is reserved for flooding")
    if int(mac[:2], 16) & 1:
        raise ValidationError(field_name, value, "multicast/broadcast MAC, a port needs unicast")
    return mac


def normalize_ip(value: object, field_name: str = "ip_address") -> str:
    """Canonical text of a single IPv4 or IPv6 address; raise otherwise."""
    if not isinstance(value, str):
        raise ValidationError(field_name, value, "must be a string")
    if _CANONICAL_IPV4_RE.fullmatch(value):
        # Already canonical dotted-quad (what every decoded line carries): the answer is
        # the value itself unless it is multicast (224/4) or unspecified.
        first = int(value[: value.index(".")])
        if not 224 <= first <= 239 and value != "0.0.0.0":
            return value
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValidationError(field_name, value, "not an IPv4 or IPv6 address") from None
    # ::ffff:192.0.2.1 is 192.0.2.1 on the wire: one address, one spelling (or
    # a port could hold it twice and two hosts could share one VTEP).
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_multicast or address.is_unspecified:
        raise ValidationError(field_name, value, "multicast/unspecified address")
    # ipaddress accepts "fe80::1%eth0"; a zone index names an interface of the
    # sender, meaningless on other hosts, and breaks the one-spelling rule.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValidationError(field_name, value, "an IPv6 zone index (%...) is not allowed")
    return str(address)


def normalize_ip_or_cidr(value: object, field_name: str = "ip_address") -> str:
    """An address or a CIDR; a host prefix (/32, /128) collapses to the address."""
    if not isinstance(value, str):
        raise ValidationError(field_name, value, "must be a string")
    if "/" not in value:
        return normalize_ip(value, field_name)
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(field_name, value, "not an IP address or CIDR") from None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.scope_id is not None:
        raise ValidationError(field_name, value, "an IPv6 zone index (%...) is not allowed")
    if net.num_addresses == 1:
        # A /32 or /128 is one address: the same rules as a bare address apply.
        address = net.network_address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # one address, one spelling (see normalize_ip)
        if address.is_multicast or address.is_unspecified:
            raise ValidationError(field_name, value, "multicast/unspecified address")
        return str(address)
    return str(net)


def is_single_address(value: str) -> bool:
    """True for a normalized address, False for a CIDR with more than one address."""
    return "/" not in value


def validate_vni(value: object, field_name: str = "provider:segmentation_id") -> int:
    # bool is an int in Python; a VNI of True is a client bug, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(field_name, value, "must be an integer")
    if not MIN_VNI <= value <= MAX_VNI:
        raise ValidationError(field_name, value, f"VNI must be in {MIN_VNI}..{MAX_VNI}")
    return value


def validate_mtu(value: object, field_name: str = "mtu") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(field_name, value, "must be an integer")
    if not MIN_MTU <= value <= MAX_MTU:
        raise ValidationError(field_name, value, f"MTU must be in {MIN_MTU}..{MAX_MTU}")
    return value


def _require_str(value: object, field_name: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(field_name, value, "must be a string")
    if not allow_empty and not value:
        raise ValidationError(field_name, value, "must not be empty")
    return value


def _require_bool(value: object, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field_name, value, "must be true or false")
    return value


@dataclass(frozen=True, slots=True)
class Network:
    """A VXLAN network (one VNI)."""

    id: str
    vni: int
    name: str = ""
    mtu: int = DEFAULT_MTU
    admin_state_up: bool = True

    def __post_init__(self) -> None:
        _require_str(self.id, "id", allow_empty=False)
        _require_str(self.name, "name")
        validate_vni(self.vni)
        validate_mtu(self.mtu)
        _require_bool(self.admin_state_up, "admin_state_up")


@dataclass(frozen=True, slots=True)
class Host:
    """A hypervisor with an agent: its name and its VTEP's underlay address."""

    name: str
    tunnel_ip: str

    def __post_init__(self) -> None:
        _require_str(self.name, "name", allow_empty=False)
        object.__setattr__(self, "tunnel_ip", normalize_ip(self.tunnel_ip, "tunnel_ip"))


@dataclass(frozen=True, slots=True)
class AddressPair:
    """An allowed address pair; ``mac_address`` None means "the port's own MAC"."""

    ip_address: str
    mac_address: str | None = None

    def __post_init__(self) -> None:
        ip = normalize_ip_or_cidr(self.ip_address, "allowed_address_pairs.ip_address")
        object.__setattr__(self, "ip_address", ip)
        if self.mac_address is not None:
            mac = normalize_mac(self.mac_address, "allowed_address_pairs.mac_address")
            object.__setattr__(self, "mac_address", mac)


@dataclass(frozen=True, slots=True)
class Port:
    """A VM's port. ``host`` is ``binding:host_id``; empty means unbound."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    host: str = ""
    status: PortStatus = PortStatus.DOWN
    admin_state_up: bool = True
    # Carried for the API; the forwarding state ignores them.
    name: str = ""
    device_owner: str = ""
    device_id: str = ""

    def __post_init__(self) -> None:
        _require_str(self.id, "id", allow_empty=False)
        _require_str(self.network_id, "network_id", allow_empty=False)
        _require_str(self.host, "binding:host_id")
        object.__setattr__(self, "mac_address", normalize_mac(self.mac_address))
        _require_bool(self.admin_state_up, "admin_state_up")
        if isinstance(self.fixed_ips, str | bytes):
            raise ValidationError("fixed_ips", self.fixed_ips, "must be a list of addresses")
        pairs = tuple(self.allowed_address_pairs)
        if not all(isinstance(p, AddressPair) for p in pairs):
            raise ValidationError("allowed_address_pairs", pairs, "must hold AddressPair values")
        object.__setattr__(self, "allowed_address_pairs", pairs)
        ips = tuple(normalize_ip(ip, "fixed_ips.ip_address") for ip in self.fixed_ips)
        if len(set(ips)) != len(ips):
            raise ValidationError("fixed_ips", list(self.fixed_ips), "an address is repeated")
        object.__setattr__(self, "fixed_ips", ips)
        try:
            status = PortStatus(self.status)
        except ValueError:
            raise ValidationError("status", self.status, "not DOWN, BUILD or ACTIVE") from None
        object.__setattr__(self, "status", status)

    @property
    def bound(self) -> bool:
        return bool(self.host)

    def with_status(self, status: PortStatus) -> Port:
        """This port in ``status``: nothing else changes, so nothing is validated again."""
        twin = object.__new__(Port)
        for name in Port.__slots__:
            object.__setattr__(twin, name, getattr(self, name))
        object.__setattr__(twin, "status", PortStatus(status))
        return twin

    @property
    def published(self) -> bool:
        """Whether peers should learn about this port (only ACTIVE ports are)."""
        return self.bound and self.status is PortStatus.ACTIVE
