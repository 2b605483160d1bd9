"""Running the ``l2pop`` command in tests: the command line, and stopping a process."""

from __future__ import annotations

import signal
import subprocess
import sys

__all__ = ["L2POP", "stop_process"]

# The project's CLI in this interpreter (the venv the tests run in), whatever
# the checkout's path: no console script is assumed on PATH.
L2POP = [sys.executable, "-c", "from l2pop.cli import main; main()"]


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0
) -> int:
    """Signal ``process`` and wait: its exit code. One that outlives ``timeout`` is
    killed, and its code is then that of the kill (a negative number)."""
    if process.poll() is not None:
        return int(process.returncode)
    process.send_signal(sig)
    try:
        return int(process.wait(timeout=timeout))
    except subprocess.TimeoutExpired:
        process.kill()
        return int(process.wait(timeout=timeout))
