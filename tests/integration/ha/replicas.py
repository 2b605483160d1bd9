"""Moved to the one test harness: ``harness.servers``.

Kept only so that branches written before the move still import; new tests
import ``harness`` directly. Remove once no branch in flight uses it.
"""

from harness.servers import Replica, running_replicas

__all__ = ["Replica", "running_replicas"]
