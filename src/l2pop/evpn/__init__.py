"""The EVPN gateway (``l2pop evpn``): l2pop's overlay joined to BGP EVPN speakers."""

from __future__ import annotations

__all__: list[str] = []
