"""The l2pop server: Neutron v2.0 subset, host/agent API, store, watch fan-out."""
