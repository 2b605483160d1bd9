"""hypothesis strategies for the core's values, shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from l2pop.core import Entries, Neigh, Unicast

__all__ = ["entries", "ips", "macs", "vteps"]

vteps = st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::3"])
macs = st.sampled_from(["fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "00:00:5e:00:01:01"])
ips = st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8:1::1"])
entries = st.builds(
    Entries,
    st.frozensets(vteps, max_size=3),
    st.frozensets(st.builds(Unicast, macs, vteps), max_size=3),
    st.frozensets(st.builds(Neigh, ips, macs), max_size=3),
)
