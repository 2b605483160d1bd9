"""The optional underlay allowlist, kept equal to the VTEPs of the held desired state."""

from __future__ import annotations

import asyncio
import logging

from l2pop.core.state import HostState
from l2pop.dataplane.allowlist import Allowlist, known_vteps
from l2pop.errors import DataplaneError

__all__ = ["UnderlayAllowlist"]

log = logging.getLogger(__name__)


class UnderlayAllowlist:
    """Accept VXLAN only from the VTEPs this host exchanges traffic with. Never installed
    before the first list; left in place when the agent stops (fail static)."""

    def __init__(self, allowlist: Allowlist) -> None:
        self._allowlist = allowlist

    async def sync(self, state: HostState) -> bool:
        """Rewrite the allowlist if its VTEP set changed; False when nft failed (logged)."""
        vteps = known_vteps(state)
        try:
            changed = await asyncio.to_thread(self._allowlist.apply, vteps)
        except DataplaneError as exc:
            log.error("underlay allowlist not updated: %s; retrying at the next resync", exc)
            return False
        if changed:
            log.info("underlay allowlist: VXLAN accepted from %d VTEPs", len(vteps))
        return True
