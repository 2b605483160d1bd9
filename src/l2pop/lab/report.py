"""The demo's side-by-side table (rich) and the VTEP tables of the pinger's host."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from l2pop.lab.demo import DemoResult
from l2pop.lab.measure import PhaseResult

__all__ = ["print_report"]


def _ms(value: float | None) -> str:
    return "no reply" if value is None else f"{value:.2f} ms"


def _rows(result: DemoResult, phase: PhaseResult) -> list[str]:
    ipv6 = bool(result.config.get("ipv6"))
    return [
        f"{phase.received}/{phase.transmitted}",
        str(phase.ns_multicasts if ipv6 else phase.arp_broadcasts),
        ", ".join(phase.hosts_reached_by_broadcast) or "none",
        ", ".join(phase.hosts_reached_by_pinger) or "none",
        str(len(phase.tunnels)),
        _ms(phase.first_reply_ms),
        ", ".join(f"{vtep}: {n}" for vtep, n in phase.vxlan_packets_by_vtep.items()) or "none",
    ]


def print_report(result: DemoResult, console: Console) -> None:
    if result.l2pop is None or result.baseline is None:
        console.print("[red]the demo did not finish; see the logs above[/red]")
        return
    ipv6 = bool(result.config.get("ipv6"))
    pinger, target = result.pinger.upper(), result.target.upper()
    labels = [
        f"ping VM {pinger} -> VM {target}",
        "multicast NS carried in VXLAN" if ipv6 else "ARP broadcasts carried in VXLAN",
        f"hosts that received VM {pinger}'s {'NS' if ipv6 else 'ARP'}",
        f"VTEPs that received VM {pinger}'s frames",
        f"tunnels used by VM {pinger}'s conversation",
        "time to first reply",
        f"VXLAN packets of VM {pinger}'s conversation, per VTEP",
    ]
    table = Table(title=f"VM {pinger} pings VM {target} across {result.config['hosts']} hosts")
    table.add_column("")
    ours_title = f"l2pop ({result.config['mode']})"
    if result.config.get("evpn"):  # l2pop demo --evpn: the target's host runs FRR
        ours_title = f"l2pop + EVPN ({result.config.get('frr_host')} runs FRR)"
    table.add_column(ours_title, style="green")
    table.add_column("flood-and-learn", style="yellow")
    ours, theirs = _rows(result, result.l2pop), _rows(result, result.baseline)
    for label, left, right in zip(labels, ours, theirs, strict=True):
        table.add_row(label, left, right)
    console.print(table)
    for title, phase in (("l2pop", result.l2pop), ("flood-and-learn", result.baseline)):
        console.print(f"[bold]{title}: what the pinger's VTEP held[/bold]")
        for line in phase.vtep_fdb or ["(no FDB entry with a destination)"]:
            console.print(f"  fdb   {line}", highlight=False)
        for line in phase.vtep_neigh or ["(no overlay neighbour entry)"]:
            console.print(f"  neigh {line}", highlight=False)
    console.print(f"took {result.timings_s.get('total', 0):.1f} s " + str(result.timings_s))
