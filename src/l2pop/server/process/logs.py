"""The server's logs: :mod:`l2pop.logs` (human lines by default, ``--log-format json``)."""

from __future__ import annotations

from l2pop.logs import JsonFormatter, LogFormat, setup_logging

__all__ = ["JsonFormatter", "LogFormat", "setup_logging"]
