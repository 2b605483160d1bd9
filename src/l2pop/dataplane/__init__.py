"""Kernel programming. ``base`` is the interface; ``linux`` the only netlink user."""
