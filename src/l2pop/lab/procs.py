"""Processes the lab runs inside its namespaces: start, stop, kill, wait until ready.

Each process runs through ``ip netns exec`` (which execs in place, so the
pid is the command's own), in its own session so a signal reaches the whole
group, with stdout and stderr in one log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from l2pop.lab.shell import LabError, netns_argv

__all__ = ["ManagedProcess", "wait_http_ok", "wait_until"]

STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.05


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = POLL_INTERVAL_S
) -> None:
    """Poll ``predicate`` until it holds; LabError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """One long-running command inside a namespace, with its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        netns: str | None,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.netns = netns
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **(env or {})}
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                netns_argv(netns, argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process group without waiting."""
        self._signal_group(sig)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT_S, sig: signal.Signals = signal.SIGTERM) -> int:
        """``sig`` (SIGTERM) to the group, SIGKILL after ``timeout`` s; the exit code."""
        if self.running():
            self._signal_group(sig)
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int:
        """SIGKILL the group at once (a crash, as ``kill -9`` would)."""
        self._signal_group(signal.SIGKILL)
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{self.name} (pid {self.pid}) survived SIGKILL") from exc

    def check_running(self) -> None:
        if not self.running():
            raise LabError(
                f"{self.name} exited with {self.popen.returncode}; log {self.log_path}:\n"
                + self.log_tail()
            )

    def wait_log(self, text: str, timeout: float) -> None:
        """Wait until ``text`` shows in the log (e.g. tcpdump's "listening on")."""

        def seen() -> bool:
            self.check_running()
            return text in self.log_tail(1_000_000)

        wait_until(seen, timeout=timeout, what=f"{text!r} in {self.log_path}")


def wait_http_ok(
    url: str,
    *,
    timeout: float,
    process: ManagedProcess | None = None,
    headers: Mapping[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Poll ``url`` until it answers 200 (bounded); fail early if ``process`` died."""

    def ok() -> bool:
        if process is not None:
            process.check_running()
        try:
            answer = httpx.get(url, timeout=1.0, headers=dict(headers or {}), verify=verify)
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ok, timeout=timeout, what=f"200 from {url}", interval=0.1)
