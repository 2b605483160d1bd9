"""schemathesis against the server's own OpenAPI schema: no input makes it answer 5xx,
and every error is Neutron-shaped. Runs against a real ``l2pop server`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from harness.servers import ServerProc, running
from l2pop.pki import issue, make_ca
from l2pop.server.api.app import create_app
from l2pop.server.service import Service


async def _no_service() -> Service:
    raise AssertionError("only the schema is used here")


# The watch stream never ends by itself; it has its own tests.
schema = schemathesis.openapi.from_dict(create_app(_no_service, 1024).openapi()).exclude(
    path_regex=".*/watch$"
)


@pytest.fixture(scope="module", params=["http", "https"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProc]:
    """The server on plain HTTP, then on HTTPS with client certificates (the Guard layer
    in front of every route: it must not turn any input into a 5xx either)."""
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    extra: list[str] = []
    ca_file = None
    if request.param == "https":
        pki = workdir / "pki"
        make_ca(pki)
        issue(pki, "server", ["127.0.0.1"], server=True)
        ca_file = pki / "ca.pem"
        extra = ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")]
        extra += ["--client-ca", str(ca_file)]
    with running(workdir, extra, ca_file) as server, server.client() as api:
        net = api.post("/v2.0/networks", json={"network": {"name": "seed"}}).json()["network"]
        subnet = {"network_id": net["id"], "cidr": "10.0.0.0/24"}
        api.post("/v2.0/subnets", json={"subnet": subnet})
        api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        api.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"})
        yield server


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_and_errors_are_neutron_shaped(case: Any, live: ServerProc) -> None:
    response = case.call(
        base_url=live.url,
        headers={"X-Auth-Token": live.token},
        timeout=10,
        verify=str(live.ca_file) if live.ca_file else True,
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["NeutronError"]
        assert set(error) == {"type", "message", "detail"}
        assert error["message"]
