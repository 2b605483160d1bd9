"""Secrets on disk: token files are written ``0600`` and read with a warning when
anyone but their owner may read them (as ssh does for its keys, but a warning,
not a refusal: a group-readable file shared with a deployment tool is a choice)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["loose_permissions", "read_secret", "warn_if_loose", "write_secret"]

log = logging.getLogger(__name__)


def write_secret(path: Path, value: str) -> None:
    """Write ``value`` to ``path``, readable by its owner only (also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file
        os.write(fd, (value.strip() + "\n").encode())
    finally:
        os.close(fd)


def loose_permissions(path: Path) -> str | None:
    """``"group"``/``"world"`` when ``path`` may be read by them, else None."""
    mode = path.stat().st_mode
    if mode & stat.S_IROTH:
        return "world"
    if mode & stat.S_IRGRP:
        return "group"
    return None


def warn_if_loose(path: Path, what: str) -> None:
    """Log a warning (never the content) when ``path`` is group- or world-readable."""
    try:
        who = loose_permissions(path)
    except OSError:
        return  # the caller's own read reports a missing file
    if who is not None:
        log.warning(
            "%s file %s is %s-readable: anyone who can read it can use it (chmod 600 %s)",
            what,
            path,
            who,
            path,
        )


def read_secret(path: Path, what: str = "token") -> str:
    """The stripped content of ``path``, with :func:`warn_if_loose`."""
    warn_if_loose(path, what)
    return path.read_text().strip()
