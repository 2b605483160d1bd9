"""Watch lines as the agent parses them, and the backoff between retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from l2pop.agent.backoff import Backoff
from l2pop.agent.client import Bookmark, UnknownLine, line_batches, parse_line
from l2pop.agent.config import AgentConfig, BackoffPolicy, parse_server_urls
from l2pop.core.wire import WatchChange
from l2pop.errors import ValidationError


def test_a_bookmark_line_carries_its_revision() -> None:
    assert parse_line('{"type": "bookmark", "revision": 7}') == Bookmark(7)


def test_a_change_line_decodes_to_a_watch_change() -> None:
    line = parse_line(
        '{"type":"change","revision":9,"networks":{"n1":{"vni":5,"mtu":1450,'
        '"add":{"flood":["192.0.2.9"]},"remove":{}}},"ports":[]}'
    )
    assert isinstance(line, WatchChange)
    assert line.revision == 9
    assert line.delta.networks["n1"].add.flood == {"192.0.2.9"}


def test_an_unknown_line_type_is_reported_not_raised() -> None:
    assert parse_line('{"type": "mode", "mode": "turbo"}') == UnknownLine("mode")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"revision": 3}',
        '{"type": "bookmark", "revision": "3"}',
        '{"type":"change","revision":9,"networks":{"n1":{"vni":5,"mtu":1450,'
        '"add":{"unicast":[{"mac":"zz:16:3e:00:00:01","vtep":"192.0.2.9"}]}}},"ports":[]}',
    ],
)
def test_malformed_lines_raise_validation_errors(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_line(text)


def test_backoff_grows_is_capped_and_jittered_down() -> None:
    policy = BackoffPolicy(initial=0.1, factor=2.0, maximum=1.0, jitter=0.5)
    backoff = Backoff(policy, random.Random(1))
    delays = [backoff.next_delay() for _ in range(2000)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(0.5 <= d <= 1.0 for d in delays[5:])
    assert len(set(delays[5:20])) > 1  # jittered, not in step with other agents
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_server_urls_are_split_and_checked() -> None:
    assert parse_server_urls("http://a:1/, http://b:2") == ("http://a:1", "http://b:2")
    with pytest.raises(ValidationError):
        parse_server_urls("a:1")
    with pytest.raises(ValidationError):
        parse_server_urls(" , ")


def test_config_normalizes_the_tunnel_ip_and_rejects_an_empty_token() -> None:
    config = AgentConfig("h1", "2001:DB8::0001", ("http://x",), "t")
    assert config.tunnel_ip == "2001:db8::1"
    with pytest.raises(ValidationError):
        AgentConfig("h1", "192.0.2.1", ("http://x",), "")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _batches(*parts: bytes) -> list[list[str]]:
    async def collect() -> list[list[str]]:
        return [batch async for batch in line_batches(_chunks(*parts))]

    return asyncio.run(collect())


def test_lines_are_batched_by_the_chunk_that_completed_them() -> None:
    assert _batches(b'{"a":1}\n{"b"', b":2}\n\n", b'{"c":3}\n{"d":4}\n') == [
        ['{"a":1}'],
        ['{"b":2}'],
        ['{"c":3}', '{"d":4}'],
    ]


def test_a_line_split_over_many_chunks_is_joined_and_a_last_line_without_newline_kept() -> None:
    parts = [b'{"long": "', *([b"x" * 10] * 50), b'"}\n', b'{"tail": 1}']
    assert _batches(*parts) == [['{"long": "' + "x" * 500 + '"}'], ['{"tail": 1}']]
