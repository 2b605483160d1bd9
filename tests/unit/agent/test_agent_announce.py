"""The agent's reports to the server: at once when quiet, capped while changes keep coming."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from l2pop.agent.announce import Announcer, endpoint_url
from l2pop.errors import NotFoundError, ServerUnreachableError, ValidationError


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


async def _until(predicate: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    ends = loop.time() + timeout
    while not predicate() and loop.time() < ends:  # type: ignore[operator]
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("fail", [None, NotFoundError("404"), ServerUnreachableError("down")])
def test_reports_at_once_then_at_most_every_min_interval(fail: Exception | None) -> None:
    min_interval = 0.5

    async def scenario() -> tuple[FakeApi, float]:
        api = FakeApi(fail)
        revision = [7]
        announcer = Announcer(
            api,  # type: ignore[arg-type]
            lambda: revision[0],
            "http://192.0.2.1:9100",
            min_interval=min_interval,
            heartbeat=10.0,
        )
        task = asyncio.create_task(announcer.run())
        loop = asyncio.get_running_loop()
        started = loop.time()
        announcer.poke()
        patience = 3.0 if fail is None else 0.3  # nothing arrives when reports fail
        await _until(lambda: len(api.sent) >= 1, patience)
        for value in range(8, 20):  # a burst of changes right after a report
            revision[0] = value
            announcer.poke()
            await asyncio.sleep(0)
        await _until(lambda: len(api.sent) >= 2, patience)
        elapsed = loop.time() - started
        await asyncio.sleep(0.1)
        task.cancel()
        return api, elapsed

    api, elapsed = asyncio.run(scenario())
    if fail is None:
        # The first at once; the burst as one report, not before min_interval.
        assert api.sent == [(7, "http://192.0.2.1:9100"), (19, "http://192.0.2.1:9100")]
        assert elapsed >= min_interval
    else:
        assert api.sent == []


@pytest.mark.parametrize("addr", ["127.0.0.1", "::1"])
def test_endpoint_serves_held_kernel_and_metrics_on_v4_and_v6(addr: str) -> None:
    import httpx
    from prometheus_client import CollectorRegistry

    from l2pop.agent.endpoint import AgentEndpoint, Sources

    async def held() -> dict[str, object]:
        return {"revision": 3}

    async def kernel() -> dict[str, object]:
        raise RuntimeError("netlink: permission denied")

    async def scenario() -> list[tuple[int, str]]:
        loop = asyncio.get_running_loop()
        endpoint = AgentEndpoint(CollectorRegistry(), Sources(loop, held, kernel), 0, addr)
        base = (
            f"http://[{addr}]:{endpoint.port}" if ":" in addr else f"http://{addr}:{endpoint.port}"
        )
        try:
            async with httpx.AsyncClient() as client:
                answers = [await client.get(base + p) for p in ("/held", "/kernel", "/metrics")]
                answers.append(await client.post(base + "/held"))
        finally:
            await asyncio.to_thread(endpoint.close)
        return [(a.status_code, a.text) for a in answers]

    (h, held_body), (k, kernel_body), (m, _), (post, _) = asyncio.run(scenario())
    assert (h, k, m, post) == (200, 500, 200, 405)
    assert '"revision": 3' in held_body
    assert "permission denied" in kernel_body


def test_a_refused_report_is_a_warning_once_not_once_per_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusal = ValidationError("revision", -1, "must be an integer >= 0")

    async def scenario() -> None:
        announcer = Announcer(
            FakeApi(refusal),  # type: ignore[arg-type]
            lambda: 7,
            None,
            min_interval=0.01,
            heartbeat=0.01,
        )
        task = asyncio.create_task(announcer.run())
        await asyncio.sleep(0.3)  # many tries
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.DEBUG, logger="l2pop.agent.announce"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "must be an integer" in warnings[0].getMessage()


class RefusesEndpoints(FakeApi):
    """A server that takes reports only without an endpoint."""

    async def report_agent(self, revision: int, endpoint: str | None) -> None:
        if endpoint is not None:
            raise ValidationError("endpoint", endpoint, "must be at an address of host h1")
        self.sent.append((revision, endpoint))


def test_a_refused_endpoint_is_dropped_and_the_revision_still_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = RefusesEndpoints()

    async def scenario() -> None:
        announcer = Announcer(
            api,  # type: ignore[arg-type]
            lambda: 7,
            "http://10.9.9.9:9100",
            min_interval=0.01,
            heartbeat=10.0,
        )
        task = asyncio.create_task(announcer.run())
        announcer.poke()
        await _until(lambda: len(api.sent) >= 1, 3.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.WARNING, logger="l2pop.agent.announce"):
        asyncio.run(scenario())
    assert api.sent[0] == (7, None)
    assert "refused this agent's endpoint" in caplog.text
