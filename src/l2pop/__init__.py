"""l2pop: an L2 population control plane for Linux VXLAN overlays."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
