"""The one test harness: real servers (SQLite or etcd, one or several replicas), agents,
ports, and watch readers.

Importable as ``harness`` from every test (``pythonpath = ["tests"]`` in
pyproject.toml): ``harness.servers`` starts ``l2pop server`` processes,
``harness.agents`` in-process agents on the fake dataplane and an admin
client, ``harness.watchlines`` / ``harness.rawwatch`` read watch streams (a
well-behaved reader on a thread, and a raw socket one for clients that
misbehave on purpose). The black-box contract suite keeps its own copy: it
must not import the project.
"""
