"""Labs kept running for exploration: ``l2pop lab up``, ``status`` and ``down``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l2pop.lab.controlplane import ControlPlane
from l2pop.lab.demo import DemoConfig, Progress, bring_up_overlay, explain_hints
from l2pop.lab.fabric import Fabric
from l2pop.lab.names import PREFIX_FAMILY
from l2pop.lab.registry import (
    DEFAULT_STATE_DIR,
    CleanReport,
    OwnerRecord,
    lab_namespaces,
    prefix_of,
    remove_run,
)
from l2pop.lab.scenario import plan_vms

__all__ = ["LabRun", "lab_down", "lab_status", "lab_up"]


def lab_up(cfg: DemoConfig, say: Progress, state_dir: Path = DEFAULT_STATE_DIR) -> LabRun:
    """Build the demo's fabric with the server, agents and VMs, and leave it running."""
    plans, pinger, target = plan_vms(cfg.hosts, cfg.vms_per_host)
    fabric = Fabric(cfg.hosts, workdir=cfg.workdir, state_dir=state_dir)
    with fabric:
        say(f"lab {fabric.prefix}: {cfg.hosts} hosts, {len(plans)} VMs, files in {fabric.workdir}")
        cp = ControlPlane.start(fabric)
        try:
            if cfg.agent_command:
                cp.agent_command = list(cfg.agent_command)
            bring_up_overlay(fabric, cp, cfg, plans, say)
        finally:
            cp.close()
        info = fabric.keep(
            {
                "server_url": cp.url,
                "server_url_underlay": cp.inner_url,
                "admin_token_file": str(fabric.workdir / "admin.token"),
                "ca_file": str(cp.ca_file or ""),
                "mode": cfg.mode,
                **explain_hints(fabric, cp, fabric.vm(pinger).host, fabric.vm(target)),
            }
        )
    return LabRun(fabric.prefix, persistent=True, owner_alive=True, namespaces=0, info=info)


@dataclass(frozen=True, slots=True)
class LabRun:
    prefix: str
    persistent: bool
    owner_alive: bool
    namespaces: int
    info: dict[str, str]


def lab_status(state_dir: Path = DEFAULT_STATE_DIR) -> list[LabRun]:
    """Every lab run on this machine: recorded ones and namespace leftovers."""
    prefixes = {prefix_of(n) for n in lab_namespaces()}
    if state_dir.is_dir():
        prefixes |= {p.stem for p in state_dir.glob("*.json") if PREFIX_FAMILY.fullmatch(p.stem)}
    runs = []
    for prefix in sorted(prefixes):
        record = OwnerRecord.read(state_dir, prefix)
        runs.append(
            LabRun(
                prefix=prefix,
                persistent=bool(record and record.persistent),
                owner_alive=bool(record and record.owner_alive()),
                namespaces=len(lab_namespaces(prefix)),
                info=record.info if record else {},
            )
        )
    return runs


def lab_down(prefixes: list[str], state_dir: Path = DEFAULT_STATE_DIR) -> CleanReport:
    """Remove the named runs, or every lab kept up when none is named."""
    if not prefixes:
        prefixes = [run.prefix for run in lab_status(state_dir) if run.persistent]
    report = CleanReport()
    for prefix in prefixes:
        if not PREFIX_FAMILY.fullmatch(prefix):
            raise ValueError(f"{prefix!r} is not a lab prefix (l2pl + 4 hex digits)")
        remove_run(prefix, state_dir, report)
    return report
