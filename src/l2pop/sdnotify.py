"""systemd's readiness protocol (sd_notify(3)), the few lines of it that l2pop needs.

Under a ``Type=notify`` unit systemd passes ``NOTIFY_SOCKET``, a unix datagram
socket (a path, or ``@name`` in the abstract namespace); a service sends
``READY=1`` once it serves and ``STOPPING=1`` when it begins to stop, as
newline-separated ``KEY=VALUE`` lines in one datagram. Without the variable
every call does nothing, so the processes behave the same outside systemd.
A failed send is logged and otherwise ignored: readiness must never stop a
service from running.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends state lines to ``NOTIFY_SOCKET`` when it is set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: a leading NUL byte in the address.
        self.address = "\0" + address[1:] if address.startswith("@") else address

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **state: str | int) -> bool:
        """Send ``KEY=VALUE`` lines (``ready=1`` -> ``READY=1``); False when not sent."""
        if not self.address:
            return False
        message = "\n".join(f"{k.upper()}={v}" for k, v in state.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message)
        except OSError as exc:
            log.warning("cannot notify systemd at %r: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(ready=1, status=status, mainpid=os.getpid())

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(stopping=1, status=status)
