"""l2pop: an L2 population control plane for Linux VXLAN overlays."""

from __future__ import annotations

__all__ = ["__version__"]

# The package version, in this one place (pyproject.toml reads it: dynamic version).
__version__ = "0.2.0.dev0"
