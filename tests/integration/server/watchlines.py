"""Moved to the one test harness: ``harness.watchlines``.

Kept only so that branches written before the move still import; new tests
import ``harness`` directly. Remove once no branch in flight uses it.
"""

from harness.watchlines import WatchReader

__all__ = ["WatchReader"]
