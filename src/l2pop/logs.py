"""Log output of the long-running processes: human lines (default) or JSON lines.

``--log-format json`` writes one JSON object per line on stderr for log
shippers: ``ts``, ``level``, ``logger``, ``msg``, plus the context a record
carries where it applies (``revision``, ``host``, ``port_id``,
``network_id``, ``protocol``: passed as ``extra=`` by the code that logs, or
set for every record of a process by :class:`ContextFilter`, e.g. the
agent's host).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from enum import StrEnum

__all__ = ["CONTEXT_FIELDS", "ContextFilter", "JsonFormatter", "LogFormat", "setup_logging"]

CONTEXT_FIELDS = ("revision", "host", "port_id", "network_id", "protocol")
HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class ContextFilter(logging.Filter):
    """Adds fixed context (e.g. ``host``) to every record that lacks it."""

    def __init__(self, **context: object) -> None:
        super().__init__()
        self.context = context

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self.context.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def setup_logging(
    level: str = "info", fmt: LogFormat | str = LogFormat.HUMAN, **context: object
) -> None:
    """Root logging to stderr in ``fmt``; ``context`` is added to every record."""
    handler = logging.StreamHandler(sys.stderr)
    if LogFormat(fmt) is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(HUMAN))
    if context:
        handler.addFilter(ContextFilter(**context))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
