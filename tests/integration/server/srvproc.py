"""Moved to the one test harness: ``harness.servers`` (and ``harness.net``).

Kept only so that branches written before the move still import; new tests
import ``harness`` directly. Remove once no branch in flight uses it.
"""

from harness.net import free_port
from harness.servers import ServerProc, ok, running

__all__ = ["ServerProc", "free_port", "ok", "running"]
