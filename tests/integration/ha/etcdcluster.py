"""Moved to the one test harness: ``harness.etcd``.

Kept only so that branches written before the move still import; new tests
import ``harness`` directly. Remove once no branch in flight uses it.
"""

from harness.etcd import ETCD, EtcdCluster, Member, Tls, etcd_cluster, free_ports, require_etcd

__all__ = ["ETCD", "EtcdCluster", "Member", "Tls", "etcd_cluster", "free_ports", "require_etcd"]
