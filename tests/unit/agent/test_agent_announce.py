"""The agent's reports to the server: at once when quiet, capped while changes keep coming."""

from __future__ import annotations

import asyncio

import pytest

from l2pop.agent.announce import Announcer, endpoint_url
from l2pop.errors import NotFoundError, ServerUnreachableError


class FakeApi:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[int, str | None]] = []
        self.fail = fail

    async def report_agent(self, revision: int, endpoint: str | None) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((revision, endpoint))


def test_endpoint_url() -> None:
    assert endpoint_url("0.0.0.0", 9100, "192.0.2.1") == "http://192.0.2.1:9100"
    assert endpoint_url("::", 9100, "2001:db8::1") == "http://[2001:db8::1]:9100"
    assert endpoint_url("10.0.0.5", 9100, "192.0.2.1") == "http://10.0.0.5:9100"
    assert endpoint_url("0.0.0.0", None, "192.0.2.1") is None


@pytest.mark.parametrize("fail", [None, NotFoundError("404"), ServerUnreachableError("down")])
def test_reports_at_once_then_at_most_every_min_interval(fail: Exception | None) -> None:
    async def scenario() -> FakeApi:
        api = FakeApi(fail)
        revision = [7]
        announcer = Announcer(
            api,  # type: ignore[arg-type]
            lambda: revision[0],
            "http://192.0.2.1:9100",
            min_interval=0.2,
            heartbeat=10.0,
        )
        task = asyncio.create_task(announcer.run())
        announcer.poke()
        await asyncio.sleep(0.05)
        for value in range(8, 20):  # a burst of changes within one interval
            revision[0] = value
            announcer.poke()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        task.cancel()
        return api

    api = asyncio.run(scenario())
    if fail is None:
        assert api.sent == [(7, "http://192.0.2.1:9100"), (19, "http://192.0.2.1:9100")]
    else:
        assert api.sent == []
