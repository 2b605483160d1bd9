"""The watch streams: fan-out hub, watchers, history replay, chunk writers.

What the rest of the server uses:

* :class:`Hub` -- the service publishes every applied revision to it;
* :class:`Watches` -- the watch route opens (:meth:`Watches.open`) and
  serves (:meth:`Watches.serve`) a stream through it, nothing else.
"""

from l2pop.server.watch.hub import STREAMS_PER_HOST, Hub
from l2pop.server.watch.streams import OpenWatch, Watches
from l2pop.server.watch.watcher import DEFAULT_MAX_QUEUED, Watcher

__all__ = ["DEFAULT_MAX_QUEUED", "STREAMS_PER_HOST", "Hub", "OpenWatch", "Watcher", "Watches"]
