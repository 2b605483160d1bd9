"""A fabric of network namespaces: underlay bridge, hosts, control namespace, VMs.

::

    <p>-underlay:  bridge <p>br, ports <p>p<slot>
        |  veth (MTU 1600: room for VXLAN over an IPv6 underlay)
    <p>-<host>:   <p>u<slot> 192.0.2.<slot>/24, 2001:db8::<slot>/64   (slot 1..253)
    <p>-control:  <p>u254    192.0.2.254/24,    2001:db8::fe/64      (the server)
    <p>-vm-<vm>:  eth0 (MAC of the port, MTU of the network) == tap<port id[:11]> in its host

The lab only creates a VM's tap in the host's namespace (as Nova does); the
agent enslaves it. ``Fabric`` is a context manager whose exit always tears
everything down; SIGTERM inside the ``with`` block unwinds it the same way.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from l2pop.dataplane.base import tap_name
from l2pop.lab.capture import Capture
from l2pop.lab.names import (
    CONTROL_SLOT,
    MAX_SLOT,
    LabNames,
    check_label,
    new_prefix,
    underlay_ipv4,
    underlay_ipv6,
)
from l2pop.lab.procs import ManagedProcess, wait_until
from l2pop.lab.registry import DEFAULT_STATE_DIR, OwnerRecord, lab_namespaces, remove_run
from l2pop.lab.shell import LabError, ip_batch, preflight, run
from l2pop.lab.topology import LabHost, LabVM, PingResult, parse_ping

__all__ = ["DEFAULT_VM_MTU", "UNDERLAY_MTU", "Fabric"]

UNDERLAY_MTU = 1600
DEFAULT_VM_MTU = 1450
CONTROL_NAME = "control"
# Devices a hypervisor namespace gets later (the agent's bridges, VXLAN devices, taps) get
# no IPv6 link-local address, so they send no DAD/RS/MLD into the overlay; IPv6 itself stays
# on (disable_ipv6 would refuse the agent's IPv6 neighbour entries: "IPv6 is disabled on this
# device"). The uplink turns address generation back on for itself.
_NO_IPV6_LINK_LOCAL = ("net.ipv6.conf.default.addr_gen_mode=1",)
# Inside a VM: IPv6 on, but no DAD or router solicitation noise when eth0 comes up.
_VM_SYSCTLS = ("net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.router_solicitations=0")


class Fabric:
    """One lab run. Use as ``with Fabric(3) as fabric: ...``."""

    def __init__(
        self,
        hosts: int | Sequence[str] = 3,
        *,
        workdir: Path | None = None,
        state_dir: Path = DEFAULT_STATE_DIR,
        prefix: str | None = None,
        persistent: bool = False,
    ) -> None:
        self.names = LabNames(prefix or _unused_prefix())
        self.prefix = self.names.prefix
        self.state_dir = state_dir
        self.persistent = persistent
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        wanted = [f"host{i}" for i in range(1, hosts + 1)] if isinstance(hosts, int) else hosts
        self._initial_hosts = [check_label("host", h) for h in wanted]
        self.hosts: dict[str, LabHost] = {}
        self.vms: dict[str, LabVM] = {}
        self.control: LabHost | None = None
        self.processes: list[ManagedProcess] = []
        self._old_handlers: dict[int, Any] = {}
        self._torn_down = False

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Fabric:
        self._install_signal_handlers()
        try:
            self.up()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    def up(self) -> None:
        """Create the underlay, the control namespace and the initial hosts."""
        preflight()
        record = OwnerRecord.for_this_process(self.prefix)
        OwnerRecord(record.prefix, record.pid, record.start_time, self.persistent).write(
            self.state_dir
        )
        ul = self.names.underlay_ns
        run(["ip", "netns", "add", ul])
        _sysctl(ul, _NO_IPV6_LINK_LOCAL)
        ip_batch(
            ul,
            [
                "link set lo up",
                f"link add {self.names.underlay_bridge} mtu {UNDERLAY_MTU} type bridge"
                " stp_state 0 mcast_snooping 0",
                f"link set {self.names.underlay_bridge} up",
            ],
        )
        self.control = self._attach(CONTROL_NAME, self.names.control_ns, CONTROL_SLOT)
        for host in self._initial_hosts:
            self.add_host(host)

    def keep(self, info: dict[str, str]) -> dict[str, str]:
        """Leave the lab up after the ``with`` block (``l2pop lab up``, ``demo --keep``): its
        processes keep running, its record turns persistent (``l2pop lab down`` removes it)."""
        info = {**info, "workdir": str(self.workdir), "hosts": ",".join(self.hosts)}
        info |= {
            f"vm:{v.name}": f"{v.netns} {v.ipv4 or ''} {v.ipv6 or ''}" for v in self.vms.values()
        }
        record = OwnerRecord.for_this_process(self.prefix)
        OwnerRecord(self.prefix, record.pid, record.start_time, True, info).write(self.state_dir)
        self._torn_down = True
        self._restore_signal_handlers()
        return info

    def teardown(self) -> None:
        """Stop every process, then delete every namespace of the run. Idempotent."""
        if self._torn_down:
            return
        self._torn_down = True
        try:
            # SIGTERM to all first, then wait for each: stopping one by one costs seconds.
            for process in self.processes:
                process.send_signal(signal.SIGTERM)
            for process in reversed(self.processes):
                with contextlib.suppress(LabError):
                    process.stop(timeout=2.0)
            remove_run(self.prefix, self.state_dir)
        finally:
            self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Unwind through __exit__ (SIGINT already raises KeyboardInterrupt).
        if not self._torn_down:
            raise SystemExit(128 + signum)

    # --- hosts -----------------------------------------------------------------------

    def add_host(self, name: str) -> LabHost:
        """A new hypervisor namespace on the underlay (may be called while traffic runs)."""
        check_label("host", name)
        if name in self.hosts or name == CONTROL_NAME:
            raise LabError(f"host {name!r} already exists")
        used = {h.slot for h in self.hosts.values()}
        slot = next((s for s in range(1, MAX_SLOT + 1) if s not in used), None)
        if slot is None:
            raise LabError(f"no underlay slot left for host {name!r} (max {MAX_SLOT})")
        host = self._attach(name, self.names.host_ns(name), slot)
        self.hosts[name] = host
        return host

    def remove_host(self, name: str) -> None:
        """Delete a host with its VMs (their taps die with it); processes inside are killed."""
        host = self.host(name)
        for vm in [v for v in self.vms.values() if v.host == name]:
            self.remove_vm(vm.name)
        self._stop_processes_in(host.netns)
        # Deleting a namespace frees its devices asynchronously; delete the uplink's bridge
        # port first so the host is off the underlay the moment this returns.
        run(["ip", "-n", self.names.underlay_ns, "link", "del", self.names.bridge_port(host.slot)])
        _delete_netns(host.netns)
        del self.hosts[name]

    def host(self, name: str) -> LabHost:
        try:
            return self.hosts[name]
        except KeyError:
            raise LabError(f"no host {name!r} in lab {self.prefix}") from None

    def _attach(self, name: str, netns: str, slot: int) -> LabHost:
        uplink, port = self.names.uplink(slot), self.names.bridge_port(slot)
        host = LabHost(name, slot, netns, uplink, underlay_ipv4(slot), underlay_ipv6(slot))
        run(["ip", "netns", "add", netns])
        _sysctl(netns, _NO_IPV6_LINK_LOCAL)
        ip_batch(
            self.names.underlay_ns,
            [
                f"link add {port} mtu {UNDERLAY_MTU} type veth peer name {uplink}"
                f" netns {netns} mtu {UNDERLAY_MTU}",
                f"link set {port} master {self.names.underlay_bridge} up",
            ],
        )
        _sysctl(netns, (f"net.ipv6.conf.{uplink}.addr_gen_mode=0",))
        ip_batch(
            netns,
            [
                "link set lo up",
                f"addr add {host.ipv4}/24 dev {uplink}",
                f"addr add {host.ipv6}/64 dev {uplink} nodad",
                f"link set {uplink} up",
            ],
        )
        return host

    # --- VMs -------------------------------------------------------------------------

    def add_vm(
        self,
        name: str,
        host: str,
        *,
        port_id: str,
        mac: str,
        ipv4: str | None = None,
        ipv6: str | None = None,
        mtu: int = DEFAULT_VM_MTU,
        tap_up: bool = False,
    ) -> LabVM:
        """Boot a VM: its namespace is fully configured before its tap appears in ``host``
        (down unless ``tap_up``, MTU ``mtu``), which is the agent's port-up signal."""
        check_label("vm", name)
        if name in self.vms:
            raise LabError(f"VM {name!r} already exists")
        on = self.host(host)
        vm = LabVM(
            name, host, self.names.vm_ns(name), port_id, tap_name(port_id), mac, ipv4, ipv6, mtu
        )
        run(["ip", "netns", "add", vm.netns])
        _sysctl(vm.netns, _VM_SYSCTLS)
        lines = [
            "link set lo up",
            f"link add {vm.dev} address {mac} mtu {mtu} type veth peer name {vm.tap} mtu {mtu}",
        ]
        lines += [f"addr add {ipv4}/24 dev {vm.dev}"] if ipv4 else []
        lines += [f"addr add {ipv6}/64 dev {vm.dev} nodad"] if ipv6 else []
        lines += [f"link set {vm.dev} up", f"link set {vm.tap} netns {on.netns}"]
        ip_batch(vm.netns, lines)
        if tap_up:
            run(["ip", "-n", on.netns, "link", "set", vm.tap, "up"])
        self.vms[name] = vm
        return vm

    def vm_link_up(self, name: str) -> bool:
        """Both ends of the VM's veth are operationally up (carrier seen by the kernel's
        link watcher: until then the VM's frames are dropped)."""
        vm = self.vm(name)
        ends = ((vm.netns, vm.dev), (self.host(vm.host).netns, vm.tap))
        return all(_operstate(ns, dev) == "UP" for ns, dev in ends)

    def wait_vm_link_up(self, name: str, timeout: float = 5.0) -> None:
        wait_until(lambda: self.vm_link_up(name), timeout=timeout, what=f"VM {name} link up")

    def remove_vm(self, name: str) -> None:
        """Destroy a VM: its namespace goes, and with it the veth pair (its tap vanishes)."""
        vm = self.vm(name)
        self._stop_processes_in(vm.netns)
        # Delete the veth explicitly: namespace cleanup is asynchronous, and the tap must be
        # gone from the host (the agent's port-down event) when this returns.
        run(["ip", "-n", vm.netns, "link", "del", vm.dev], check=False)
        _delete_netns(vm.netns)
        del self.vms[name]

    def vm(self, name: str) -> LabVM:
        try:
            return self.vms[name]
        except KeyError:
            raise LabError(f"no VM {name!r} in lab {self.prefix}") from None

    def ping(
        self, vm: str, target: str, *, count: int = 1, interval: float = 0.2, timeout: float = 2.0
    ) -> PingResult:
        """Ping ``target`` from inside ``vm``; never raises for loss (look at the result)."""
        argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(timeout), target]
        done = run(
            argv, netns=self.vm(vm).netns, check=False, timeout=count * interval + timeout + 5
        )
        return parse_ping(done.stdout + done.stderr)

    # --- processes -------------------------------------------------------------------

    def start(
        self,
        name: str,
        netns: str | None,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        """Start a long-running command in ``netns``, logging to ``<workdir>/<name>.log``;
        it is stopped (SIGTERM, then SIGKILL) at teardown."""
        process = ManagedProcess(
            name, argv, netns=netns, log_path=self.workdir / f"{name}.log", env=env
        )
        self.processes.append(process)
        return process

    def forward(self, netns: str, host: str, port: int) -> str:
        """A ``127.0.0.1:<port>`` address in the root namespace that reaches ``host:port``
        inside ``netns`` (see l2pop.lab.forward)."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            local = f"127.0.0.1:{listener.getsockname()[1]}"
            listener.set_inheritable(True)
            target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            argv = [sys.executable, "-m", "l2pop.lab.forward", "--fd", str(listener.fileno())]
            name = f"forward-{netns.removeprefix(self.prefix + '-')}-{port}"
            process = ManagedProcess(
                name,
                [*argv, "--target", target],
                netns=netns,
                log_path=self.workdir / f"{name}.log",
                pass_fds=(listener.fileno(),),
            )
            self.processes.append(process)
        return local

    def capture(self, hosts: Sequence[str] | None = None, *, name: str = "capture") -> Capture:
        """A VXLAN capture on the uplinks of ``hosts`` (default: all), files in the workdir;
        use as a context manager."""
        chosen = [self.host(h) for h in hosts] if hosts is not None else list(self.hosts.values())
        return Capture(chosen, self.workdir, name=name)

    def _stop_processes_in(self, netns: str) -> None:
        for process in [p for p in self.processes if p.netns == netns]:
            with contextlib.suppress(LabError):
                process.stop(timeout=2.0)
            self.processes.remove(process)

    def namespaces(self) -> list[str]:
        """The namespaces of this run that exist right now."""
        return lab_namespaces(self.prefix)

    def __iter__(self) -> Iterator[LabHost]:
        return iter(self.hosts.values())


def _operstate(netns: str, dev: str) -> str:
    done = run(["ip", "-n", netns, "-br", "link", "show", "dev", dev], check=False)
    fields = done.stdout.split()
    return fields[1] if len(fields) > 1 else "ABSENT"


def _sysctl(netns: str, settings: Sequence[str]) -> None:
    run(["sysctl", "-q", "-w", *settings], netns=netns)


def _delete_netns(netns: str) -> None:
    pids = run(["ip", "netns", "pids", netns], check=False).stdout.split()
    for pid in pids:
        run(["kill", "-9", pid], check=False)
    run(["ip", "netns", "del", netns])


def _unused_prefix() -> str:
    existing = {n[:8] for n in lab_namespaces()}
    for _ in range(100):
        prefix = new_prefix()
        if prefix not in existing:
            return prefix
    raise LabError("no free lab prefix after 100 tries (run `l2pop lab clean`)")
