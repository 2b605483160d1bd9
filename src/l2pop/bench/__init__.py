"""Benchmarks behind ``l2pop bench`` (server, dataplane, sim)."""
