"""Admin client and CLI for the l2pop server (``l2pop network|port|host|state``)."""
