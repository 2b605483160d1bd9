"""The BGP speaker: a ``gobgpd`` child process driven through the ``gobgp`` CLI.

Why the CLI and not gobgpd's gRPC API: the API needs stubs generated from
GoBGP's .proto files (not packaged anywhere we install from), and the CLI
is the same API client, shipped with the daemon, with JSON output (``-j``)
and a route syntax that is GoBGP's own documented interface. The cost is
one process per route change (~20 ms, measured in docs/evpn.md), paid only
when l2pop's state changes; several run at once.

gobgpd dies with the gateway (``PR_SET_PDEATHSIG``): a gateway that is gone
must not leave a speaker announcing routes that nobody maintains any more;
its BGP sessions close and the peers withdraw what it announced.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2pop.evpn.routes import Route, gobgp_add_args, gobgp_del_args

__all__ = ["GoBgp", "SpeakerConfig", "SpeakerError", "render_config"]

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PARALLEL = 2  # the CLI is CPU-bound (a Go process start): more at once only queue (measured)
READY_TIMEOUT_S = 15.0


class SpeakerError(RuntimeError):
    """gobgpd or the gobgp CLI failed."""


@dataclass(frozen=True, slots=True)
class SpeakerConfig:
    asn: int
    router_id: str
    peers: tuple[str, ...]
    password: str | None = None
    listen_port: int = 179


def _quote(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is a JSON string


def render_config(config: SpeakerConfig) -> str:
    """gobgpd's TOML: iBGP (peer AS = our AS), family l2vpn-evpn, from the router-id."""
    lines = [
        "[global.config]",
        f"  as = {config.asn}",
        f"  router-id = {_quote(config.router_id)}",
        f"  port = {config.listen_port}",
        f"  local-address-list = [{_quote(config.router_id)}]",
    ]
    for peer in config.peers:
        lines += [
            "[[neighbors]]",
            "  [neighbors.config]",
            f"    neighbor-address = {_quote(peer)}",
            f"    peer-as = {config.asn}",
        ]
        if config.password is not None:
            lines.append(f"    auth-password = {_quote(config.password)}")
        lines += [
            "  [neighbors.transport.config]",
            f"    local-address = {_quote(config.router_id)}",
            "  [neighbors.timers.config]",
            "    connect-retry = 1",
            "  [[neighbors.afi-safis]]",
            "    [neighbors.afi-safis.config]",
            '      afi-safi-name = "l2vpn-evpn"',
        ]
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class GoBgp:
    """One gobgpd and the CLI calls against its API port."""

    def __init__(self, config: SpeakerConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.api_port = _free_port()
        self.process: asyncio.subprocess.Process | None = None
        for tool in ("gobgpd", "gobgp"):
            if shutil.which(tool) is None:
                raise SpeakerError(f"{tool} not found: install the Debian package gobgpd")

    def _cli(self, *args: str) -> list[str]:
        return ["gobgp", "-p", str(self.api_port), *args]

    async def start(self) -> None:
        path = self.workdir / "gobgpd.toml"
        path.write_text(render_config(self.config))
        path.chmod(0o600)  # it may hold the MD5 password
        log_file = (self.workdir / "gobgpd.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *("gobgpd", "-f", str(path), "-t", "toml", "-p", "--pprof-disable"),
            f"--api-hosts=127.0.0.1:{self.api_port}",
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log_file.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while True:
            if self.process.returncode is not None:
                raise SpeakerError(f"gobgpd exited ({self.process.returncode}): see {path.parent}")
            try:
                await self.run("global")
                return
            except SpeakerError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def run(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self._cli(*args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise SpeakerError(f"gobgp {' '.join(args)}: {err.decode().strip() or out.decode()}")
        return out.decode()

    async def apply(self, add: Sequence[Route], remove: Sequence[Route]) -> None:
        """Announce ``add`` and withdraw ``remove``, a few CLI calls at once."""
        limit = asyncio.Semaphore(PARALLEL)
        asn = self.config.asn

        async def one(args: list[str]) -> None:
            async with limit:
                await self.run("global", "rib", "-a", "evpn", *args)

        calls = [one(["del", *gobgp_del_args(r)]) for r in remove]
        calls += [one(["add", *gobgp_add_args(r, asn)]) for r in add]
        await asyncio.gather(*calls)

    async def rib(self) -> dict[str, list[dict[str, Any]]]:
        answer = json.loads(await self.run("global", "rib", "-a", "evpn", "-j") or "{}")
        return answer if isinstance(answer, dict) else {}

    async def established(self) -> set[str]:
        """Peers whose session is up."""
        peers = json.loads(await self.run("neighbor", "-j") or "[]")
        out = set()
        for peer in peers:
            state = peer.get("state", {})
            if state.get("session_state") == 6 or state.get("session-state") == "established":
                out.add(str(peer.get("conf", {}).get("neighbor_address", "")))
        return out

    async def monitor(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The RIB as it is, then every change: lists of paths (``withdrawal`` set when gone)."""
        proc = await asyncio.create_subprocess_exec(
            *self._cli("monitor", "global", "rib", "-a", "evpn", "-j", "--current"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=64 * 1024 * 1024,
            preexec_fn=_die_with_parent,
        )
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                try:
                    paths = json.loads(line)
                except ValueError:
                    log.warning("gobgp monitor: not JSON: %.200r", line)
                    continue
                if isinstance(paths, dict):
                    paths = [paths]
                yield [p for p in paths if isinstance(p, dict)]
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        raise SpeakerError("gobgp monitor ended")
