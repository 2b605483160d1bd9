"""The uvicorn internals the server relies on, checked against the uvicorn installed.

:mod:`l2pop.server.process.uvicorn_adapter` is the one place that reaches past
uvicorn's public API. If an upgrade moves what it reads, these tests fail
here, by name, instead of the watch streams quietly taking a slower path.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import uvicorn

from harness.net import free_port
from l2pop.server.process.uvicorn_adapter import (
    GracefulServer,
    chunked_response,
    connection_transport,
)


async def _serve_one(http: str, loop: str, frame: bool = True) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        transport = connection_transport(send)
        seen["transport"] = transport
        seen["chunked"] = chunked_response(send)
        if transport is not None and frame:
            seen["buffered"] = transport.get_write_buffer_size()
            seen["closing"] = transport.is_closing()
            seen["peer"] = transport.get_extra_info("peername")
            transport.write(b"5\r\nhello\r\n")  # framed by us, as the watch writer does
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, loop=loop, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    seen["response"] = await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 10)
    writer.close()
    server.should_exit = True
    await task
    return seen


def test_the_connection_transport_and_chunked_flag_are_where_the_adapter_looks() -> None:
    # httptools: what ``uvicorn --http auto`` (the server's setting) picks when installed.
    http = "httptools"
    seen = asyncio.run(_serve_one(http, "asyncio"))
    assert seen["transport"] is not None, f"uvicorn ({http}) no longer keeps cycle.transport"
    assert seen["chunked"], f"uvicorn ({http}) no longer sets cycle.chunked_encoding"
    assert seen["buffered"] == 0
    assert seen["closing"] is False
    assert seen["peer"][0] == "127.0.0.1"
    assert b"5\r\nhello\r\n0\r\n\r\n" in seen["response"]


def test_with_h11_the_adapter_declines_and_the_body_goes_through_asgi() -> None:
    # h11 frames the body itself: writing our own chunks there would corrupt it.
    seen = asyncio.run(_serve_one("h11", "asyncio", frame=False))
    assert seen["chunked"] is False


def test_uvloop_transports_pass_the_adapter_too() -> None:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        seen = runner.run(_serve_one("httptools", "none"))
    assert seen["transport"] is not None
    assert seen["chunked"]


def test_a_plain_asgi_send_is_not_taken_for_uvicorns() -> None:
    async def send(message: Any) -> None:
        del message

    assert connection_transport(send) is None
    assert chunked_response(send) is False


def test_a_graceful_server_clears_the_captured_signal_and_runs_its_hook_first() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        del scope, receive, send

    async def before_shutdown() -> None:
        calls.append("hook")

    async def scenario() -> None:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        server = GracefulServer(config, before_shutdown)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        # What a SIGTERM does: uvicorn records the signal to raise it again later.
        server.handle_exit(signal.SIGTERM, None)
        assert server.should_exit
        assert server._captured_signals == []  # cleared: a graceful stop exits 0
        await task

    asyncio.run(scenario())
    assert calls == ["hook"]


def test_uvicorn_still_records_the_signals_it_will_raise_again() -> None:
    # GracefulServer clears this list; if uvicorn stops keeping it, rethink that.
    server = uvicorn.Server(uvicorn.Config(lambda: None, log_config=None))
    server.handle_exit(signal.SIGINT, None)
    assert server._captured_signals == [signal.SIGINT]
