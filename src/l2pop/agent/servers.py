"""Which of several servers an agent uses first: rendezvous (highest random weight) hashing.

Every agent ranks the server URLs by a hash of (its host name, the URL) and
uses them in that order. The first choice is spread evenly over the
replicas, is the same after every restart (a stable hash, not Python's
salted ``hash``), and when one replica goes away only the agents that ranked
it first move -- each to its own second choice, so they spread evenly over
the survivors too. Failover walks the ranking in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["rank_servers"]


def _weight(host: str, url: str) -> int:
    digest = hashlib.blake2b(f"{host}\0{url.rstrip('/')}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank_servers(urls: Sequence[str], host: str) -> list[str]:
    """``urls`` in the order ``host`` tries them (ties, i.e. duplicates, keep their order)."""
    return sorted(urls, key=lambda url: _weight(host, url), reverse=True)
