"""Large-scale simulation: workloads, cost models, simulated agents against a real server."""
