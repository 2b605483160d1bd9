"""A stand-in for the server that answers with scripted, possibly malformed, bodies:
the one place where a fake server is needed (the real one never sends bad input)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.net import free_port


class StandIn:
    """``/state`` answers ``states[i]`` on the i-th call (the last one again after that);
    the i-th watch streams ``watches[i]`` (raw lines), then bookmarks until stopped, or
    answers with the status ``watches[i]`` when it is an int."""

    def __init__(self, states: list[Any], watches: Sequence[list[str] | int]) -> None:
        self.states = states
        self.watches = watches
        self.state_calls = 0
        self.watch_calls: list[int] = []  # the revision each watch asked for
        self.port = free_port()
        app = Starlette(
            routes=[
                Route("/v1/hosts/{name}/state", self._state),
                Route("/v1/hosts/{name}/watch", self._watch),
                Route("/v1/hosts/{name}/ports/{port}/status", self._status, methods=["PUT"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _state(self, request: Request) -> Response:
        body = self.states[min(self.state_calls, len(self.states) - 1)]
        self.state_calls += 1
        return JSONResponse(body)

    async def _watch(self, request: Request) -> Response:
        revision = int(request.query_params.get("revision", "0"))
        index = len(self.watch_calls)
        self.watch_calls.append(revision)
        script = self.watches[index] if index < len(self.watches) else []
        if isinstance(script, int):  # answer with this status instead of a stream
            error = {"NeutronError": {"type": "Scripted", "message": "scripted", "detail": ""}}
            return JSONResponse(error, status_code=script)

        async def lines() -> AsyncIterator[bytes]:
            for line in script:
                yield (line + "\n").encode()
            while not self._server.should_exit:
                yield f'{{"type":"bookmark","revision":{revision}}}\n'.encode()
                await asyncio.sleep(0.2)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def _status(self, request: Request) -> Response:
        return JSONResponse({"port": {}})

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextlib.contextmanager
def standin(states: list[Any], watches: Sequence[list[str] | int]) -> Iterator[StandIn]:
    server = StandIn(states, watches)
    server.start()
    try:
        yield server
    finally:
        server.stop()
