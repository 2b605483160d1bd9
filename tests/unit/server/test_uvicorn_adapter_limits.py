"""What server/process/uvicorn_adapter.py relies on in uvicorn: fails when uvicorn changes it."""

from __future__ import annotations

import inspect

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from l2pop.server.process.uvicorn_adapter import ConnectionGuard, ConnectionLimits, guarded_protocol

# method -> its parameters after self, as the adapter overrides and calls them
HOOKS = {
    "connection_made": ["transport"],
    "connection_lost": ["exc"],
    "data_received": ["data"],
    "on_message_begin": [],
    "on_headers_complete": [],
    "on_message_complete": [],
    "on_response_complete": [],
}


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_protocol_hooks_exist_with_their_signatures(name: str) -> None:
    method = getattr(HttpToolsProtocol, name)
    params = list(inspect.signature(method).parameters)[1:]
    assert params == HOOKS[name]


def test_the_transport_attribute_is_set_by_connection_made() -> None:
    source = inspect.getsource(HttpToolsProtocol.connection_made)
    assert "self.transport = transport" in source


def test_uvicorn_takes_a_protocol_class_for_http() -> None:
    guard = ConnectionGuard(ConnectionLimits(max_connections=10))
    protocol = guarded_protocol(guard)
    config = Config(app=lambda *_: None, http=protocol)
    config.load()
    assert config.http_protocol_class is protocol
    assert issubclass(protocol, HttpToolsProtocol)


def test_the_default_cap_leaves_descriptor_headroom() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert ConnectionLimits().cap() == max(16, soft - 64)
    assert ConnectionLimits(max_connections=5).cap() == 5


def test_the_server_keeps_its_listeners_in_servers() -> None:
    # GracefulServer.shutdown closes them before its hook ends the watch streams.
    import uvicorn

    assert "self.servers" in inspect.getsource(uvicorn.Server.startup)
    assert "for server in self.servers:" in inspect.getsource(uvicorn.Server.shutdown)
