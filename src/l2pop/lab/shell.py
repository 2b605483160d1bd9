"""Running iproute2 and friends, in the root namespace or inside a lab namespace.

The lab drives the kernel through ``ip``/``bridge`` commands rather than
netlink: it is not on a hot path, and every step reads like the commands a
person would type to rebuild the fabric by hand. Several commands for one
namespace go through one ``ip -batch`` process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from l2pop.errors import L2popError

__all__ = ["LabError", "ip_batch", "netns_argv", "preflight", "run"]

COMMAND_TIMEOUT_S = 20.0


class LabError(L2popError):
    """Building, running or tearing down the lab failed; the message names the command."""


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` as run inside ``netns`` (unchanged for the root namespace)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    timeout: float = COMMAND_TIMEOUT_S,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; with ``check`` a failure raises LabError with its stderr."""
    full = netns_argv(netns, argv)
    try:
        done = subprocess.run(
            full, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(full)}: no answer within {timeout} s") from exc
    except FileNotFoundError as exc:
        raise LabError(f"{full[0]}: not installed (run scripts/setup.sh)") from exc
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(full)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def ip_batch(netns: str | None, lines: Sequence[str], *, tool: str = "ip") -> None:
    """Run ``ip -batch`` (or ``bridge -batch``) over ``lines`` in ``netns``; stop at the first
    failing line and name it."""
    if not lines:
        return
    argv = [tool] + (["-n", netns] if netns is not None else []) + ["-batch", "-"]
    done = run(argv, check=False, stdin="\n".join(lines) + "\n")
    if done.returncode != 0:
        where = f" in {netns}" if netns else ""
        raise LabError(f"{tool} -batch{where} failed: {done.stderr.strip()}")


REQUIRED_TOOLS = ("ip", "bridge", "sysctl", "tcpdump", "ping")


def preflight() -> None:
    """Fail early and clearly when the lab cannot run here: it needs root (network
    namespaces) and the iproute2/procps/tcpdump/iputils tools."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates network namespaces): run it with sudo")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (run scripts/setup.sh)")
