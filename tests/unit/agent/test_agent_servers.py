"""Rendezvous ranking of server URLs by host name."""

from __future__ import annotations

from collections import Counter

from l2pop.agent.servers import rank_servers

URLS = ["http://10.0.0.1:9696", "http://10.0.0.2:9696", "http://10.0.0.3:9696"]


def test_1000_hosts_split_evenly_and_stably() -> None:
    firsts = Counter(rank_servers(URLS, f"compute-{i}")[0] for i in range(1000))
    assert set(firsts) == set(URLS)
    assert all(280 <= n <= 390 for n in firsts.values()), firsts
    # The same host ranks the same way every time, whatever order it was given.
    assert rank_servers(URLS, "compute-7") == rank_servers(URLS[::-1], "compute-7")


def test_removing_a_server_moves_only_the_hosts_that_ranked_it_first() -> None:
    hosts = [f"compute-{i}" for i in range(1000)]
    before = {h: rank_servers(URLS, h) for h in hosts}
    after = {h: rank_servers(URLS[1:], h) for h in hosts}
    moved = {h for h in hosts if before[h][0] != after[h][0]}
    assert moved == {h for h in hosts if before[h][0] == URLS[0]}
    # The moved hosts land where their own ranking said: their second choice.
    assert all(after[h][0] == before[h][1] for h in moved)
    assert 0.4 < sum(after[h][0] == URLS[1] for h in moved) / len(moved) < 0.6


def test_a_trailing_slash_does_not_change_the_ranking() -> None:
    with_slash = [url + "/" for url in URLS]
    assert [u.rstrip("/") for u in rank_servers(with_slash, "h")] == rank_servers(URLS, "h")
