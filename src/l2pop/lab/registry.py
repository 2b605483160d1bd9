"""Who owns which lab run, and removing the leftovers of runs whose owner is gone.

Before a run creates anything it writes ``<state dir>/<prefix>.json`` naming
its owner process (pid and start time, so a reused pid does not count). A run
whose owner is dead is a leftover; ``clean`` kills the processes still inside
its namespaces, deletes the namespaces (which deletes every link inside) and
any root-namespace link with the prefix, then the record. A namespace or link
of the prefix family with no record at all is a leftover too. Runs kept up on
purpose (``l2pop lab up``) are marked persistent and only removed by
``lab down`` or ``clean --all``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from l2pop.lab.names import PREFIX_FAMILY
from l2pop.lab.shell import run

__all__ = [
    "DEFAULT_STATE_DIR",
    "CleanReport",
    "OwnerRecord",
    "clean",
    "lab_links",
    "lab_namespaces",
    "prefix_of",
    "process_start_time",
    "remove_run",
]

DEFAULT_STATE_DIR = Path("/run/l2pop-lab")
PROCESS_EXIT_TIMEOUT_S = 5.0


def process_start_time(pid: int) -> int | None:
    """The start time (clock ticks after boot) of ``pid``, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    prefix: str
    pid: int
    start_time: int
    persistent: bool = False
    info: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_this_process(cls, prefix: str) -> OwnerRecord:
        pid = os.getpid()
        return cls(prefix=prefix, pid=pid, start_time=process_start_time(pid) or 0)

    def owner_alive(self) -> bool:
        return process_start_time(self.pid) == self.start_time

    def write(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / f"{self.prefix}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, state_dir: Path, prefix: str) -> OwnerRecord | None:
        try:
            raw = json.loads((state_dir / f"{prefix}.json").read_text())
            return cls(
                prefix=str(raw["prefix"]),
                pid=int(raw["pid"]),
                start_time=int(raw["start_time"]),
                persistent=bool(raw.get("persistent", False)),
                info={str(k): str(v) for k, v in dict(raw.get("info", {})).items()},
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def lab_namespaces(prefix: str | None = None) -> list[str]:
    """Namespaces of one run (``prefix``) or of the whole lab family."""
    names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line]
    return [n for n in names if _belongs(n, prefix)]


def lab_links(prefix: str | None = None) -> list[str]:
    """Links in the root namespace of one run or of the lab family (there should be none)."""
    names = [
        line.split()[0].split("@")[0]
        for line in run(["ip", "-br", "link"]).stdout.splitlines()
        if line
    ]
    return [n for n in names if _belongs(n, prefix)]


def _belongs(name: str, prefix: str | None) -> bool:
    return name.startswith(prefix) if prefix else PREFIX_FAMILY.match(name) is not None


def _kill_and_wait(pids: Iterable[int]) -> None:
    pending = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            pending.add(pid)
    deadline = time.monotonic() + PROCESS_EXIT_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
            if process_start_time(pid) is None or _is_zombie(pid):
                pending.discard(pid)
        time.sleep(0.02)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _netns_pids(netns: str) -> list[int]:
    done = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


@dataclass(slots=True)
class CleanReport:
    prefixes: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    killed: int = 0
    skipped_live: list[str] = field(default_factory=list)


def remove_run(prefix: str, state_dir: Path, report: CleanReport | None = None) -> CleanReport:
    """Kill what runs inside the run's namespaces, delete them, its root links and its record."""
    report = report if report is not None else CleanReport()
    namespaces = lab_namespaces(prefix)
    pids = [pid for ns in namespaces for pid in _netns_pids(ns)]
    _kill_and_wait(pids)
    report.killed += len(pids)
    for ns in namespaces:
        run(["ip", "netns", "del", ns], check=False)
        report.namespaces.append(ns)
    for link in lab_links(prefix):
        run(["ip", "link", "del", link], check=False)
        report.links.append(link)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / f"{prefix}.json").unlink()
    report.prefixes.append(prefix)
    return report


def prefix_of(name: str) -> str:
    """The run prefix of a lab namespace or link name."""
    match = PREFIX_FAMILY.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a lab name")
    return match.group(0)


def clean(state_dir: Path = DEFAULT_STATE_DIR, *, include_live: bool = False) -> CleanReport:
    """Remove every lab run whose owner is gone (with ``include_live``: every lab run)."""
    prefixes = {prefix_of(n) for n in lab_namespaces() + lab_links()}
    if state_dir.is_dir():
        prefixes |= {p.stem for p in state_dir.glob("*.json") if PREFIX_FAMILY.fullmatch(p.stem)}
    report = CleanReport()
    for prefix in sorted(prefixes):
        record = OwnerRecord.read(state_dir, prefix)
        live = record is not None and (record.persistent or record.owner_alive())
        if live and not include_live:
            report.skipped_live.append(prefix)
            continue
        remove_run(prefix, state_dir, report)
    return report
