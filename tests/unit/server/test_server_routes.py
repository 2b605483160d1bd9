"""One implementation per route: the fast dispatcher and the FastAPI app never overlap.

The operations the schema declares for the fast dispatcher are exactly its
routes; every other operation has a FastAPI body; and a bug in any handler
of either kind is the same logged NeutronError 500.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.routing import APIRoute
from srvapi import ADMIN, Api

from l2pop.server.api import fastpath, hosts, neutron, subnets
from l2pop.server.api.app import create_app
from l2pop.server.api.declared import FAST_PATH
from l2pop.server.api.fastpath import ROUTES, FastRoute
from l2pop.server.service import Service

_METHODS = {"get", "put", "post", "delete", "patch", "head"}


async def _no_service() -> Service:
    raise AssertionError("only the schema is used here")


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    schema = create_app(_no_service, 1024).openapi()
    return {
        (method.upper(), path): op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in _METHODS
    }


def test_the_fast_dispatcher_serves_exactly_the_declared_operations() -> None:
    declared = {key for key, op in _operations().items() if op.get(FAST_PATH)}
    assert declared == {(r.method, r.path) for r in ROUTES}


def test_every_other_operation_has_a_fastapi_body_and_none_is_served_twice() -> None:
    operations = _operations()
    bodies = {key for key, op in operations.items() if not op.get(FAST_PATH)}
    fast = {(r.method, r.path) for r in ROUTES}
    assert not bodies & fast
    assert bodies | fast == set(operations)
    for route in [*hosts.router.routes, *neutron.router.routes, *subnets.router.routes]:
        if isinstance(route, APIRoute) and route.include_in_schema:
            declared = bool(route.openapi_extra and FAST_PATH in route.openapi_extra)
            assert declared == ({(m, route.path) for m in route.methods} <= fast), route.path


def test_declared_operations_carry_their_parameters() -> None:
    watch = _operations()[("GET", "/v1/hosts/{name}/watch")]
    assert {(p["name"], p["in"]) for p in watch["parameters"]} == {
        ("name", "path"),
        ("revision", "query"),
    }
    assert "requestBody" in _operations()[("POST", "/v2.0/ports")]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v2.0/ports/p1"), ("GET", "/v2.0/networks/n1")]
)
def test_a_bug_in_any_handler_is_a_logged_neutron_500(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
) -> None:
    def broken(*args: object) -> None:
        raise KeyError("a bug")

    # One fast route and one FastAPI route, each made to fail the same way.
    client_context = api.client.app.app.state.ctx  # type: ignore[attr-defined]
    monkeypatch.setattr(client_context.ports, "get", broken)
    monkeypatch.setattr(client_context.networks, "get", broken)
    with caplog.at_level(logging.ERROR):
        status, body = api.call(method, path)
    assert status == 500
    assert body == {
        "NeutronError": {
            "type": "InternalError",
            "message": "internal server error",
            "detail": "",
        }
    }
    assert any("unexpected error on" in r.message and r.exc_info for r in caplog.records)
    assert ADMIN


def test_route_templates_match_only_whole_segments() -> None:
    route = FastRoute.of("GET", "/v1/hosts/{name}/watch", fastpath.fasthosts.watch)
    assert route.pattern.match("/v1/hosts/h1/watch")
    assert not route.pattern.match("/v1/hosts/h1/x/watch")
    assert not route.pattern.match("/v1/hosts/h1/watch/")
