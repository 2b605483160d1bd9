"""The fabric view's server side and the agent report route, in process (real SQLite)."""

from __future__ import annotations

from srvapi import ADMIN, Api

NET_FIELDS = {"name": "demo", "provider:segmentation_id": 100}


def login(api: Api, token: str) -> int:
    response = api.client.post(
        "/ui/login", data={"token": token}, follow_redirects=False
    )  # fmt: skip
    return response.status_code


def test_nothing_readable_without_a_session(api: Api) -> None:
    page = api.client.get("/ui/")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert "demo" not in page.text
    for path in ("/ui/api/fabric", "/ui/api/events"):
        assert api.client.get(path).status_code == 401
    assert api.client.post("/ui/api/explain", json={}).status_code == 401
    # A token in the URL or a header opens nothing: only the session cookie does.
    assert api.client.get("/ui/api/fabric", headers={"X-Auth-Token": ADMIN}).status_code == 401
    assert login(api, "wrong") == 401
    assert api.client.get("/ui/api/fabric").status_code == 401


def test_admin_login_sets_a_strict_httponly_cookie(api: Api) -> None:
    response = api.client.post("/ui/login", data={"token": ADMIN}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    assert ADMIN.lower() not in cookie
    page = api.client.get("/ui/")
    assert 'id="matrix"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    api.client.post("/ui/logout", follow_redirects=False)
    assert api.client.get("/ui/api/fabric").status_code == 401


def test_viewer_token_is_admin_only_and_opens_the_view(api: Api) -> None:
    host_token = api.host("h1", "192.0.2.1")
    status, _ = api.call("POST", "/v1/viewer-tokens", {}, token=host_token)
    assert status == 403
    status, _ = api.call("POST", "/v1/viewer-tokens", {"ttl_seconds": -1})
    assert status == 400
    viewer = api.ok("POST", "/v1/viewer-tokens", {"ttl_seconds": 600})["token"]
    # The viewer token is not an API token.
    assert api.call("GET", "/v2.0/networks", token=viewer)[0] == 401
    assert login(api, viewer) == 303
    assert api.client.get("/ui/").text.count('data-role="viewer"') == 1


def test_fabric_pages_and_agent_reports(api: Api) -> None:
    tokens = {h: api.host(h, f"192.0.2.{i}") for i, h in enumerate(("h1", "h2", "h3"), 1)}
    net = api.network(**NET_FIELDS)
    ports = [
        api.port(net["id"], fixed_ips=[{"ip_address": f"198.51.100.{i}"}], **{
            "binding:host_id": h})
        for i, h in enumerate(("h1", "h2"), 1)
    ]  # fmt: skip
    for port, host in zip(ports, ("h1", "h2"), strict=True):
        path = f"/v1/hosts/{host}/ports/{port['id']}/status"
        api.ok("PUT", path, {"status": "ACTIVE"}, token=tokens[host])
    # Agent reports: the host's own token only, validated.
    body = {"revision": 1, "endpoint": "http://192.0.2.1:9100"}
    assert api.call("PUT", "/v1/hosts/h1/agent", body, token=tokens["h2"])[0] == 403
    assert api.call("PUT", "/v1/hosts/h1/agent", {"revision": "x"}, token=tokens["h1"])[0] == 400
    bad = {"revision": 1, "endpoint": "file:///etc/passwd"}
    assert api.call("PUT", "/v1/hosts/h1/agent", bad, token=tokens["h1"])[0] == 400
    # The server fetches the endpoint: only at an address of that host.
    for elsewhere in ("http://169.254.169.254/latest", "http://192.0.2.2:9100",
                      "http://metadata.internal:9100", "http://[2001:db8::1]:9100"):  # fmt: skip
        code, answer = api.call(
            "PUT", "/v1/hosts/h1/agent", {"revision": 1, "endpoint": elsewhere},
            token=tokens["h1"],
        )  # fmt: skip
        assert code == 400, elsewhere
        assert "endpoint" in answer["NeutronError"]["message"]
    assert api.ok("GET", "/v1/hosts/h1/agent")["agent"]["endpoint"] is None  # nothing kept
    assert api.call("PUT", "/v1/hosts/nohost/agent", body)[0] == 404
    agent = api.ok("PUT", "/v1/hosts/h1/agent", body, token=tokens["h1"])["agent"]
    assert agent["in_sync"] is False  # revision 1 < the last change that concerned h1
    assert agent["last_change"] > 1
    body["revision"] = agent["last_change"]
    agent = api.ok("PUT", "/v1/hosts/h1/agent", body, token=tokens["h1"])["agent"]
    assert agent["in_sync"] is True
    assert api.ok("GET", "/v1/hosts/h1/agent")["agent"]["endpoint"] == "http://192.0.2.1:9100"

    assert login(api, ADMIN) == 303
    data = api.client.get("/ui/api/fabric", params={"hosts_limit": "2"}).json()
    assert data["summary"]["ports_by_status"] == {"ACTIVE": 2, "BUILD": 0, "DOWN": 0}
    assert data["summary"]["agents_in_sync"] == 1
    assert data["hosts"]["total"] == 3
    assert [h["name"] for h in data["hosts"]["hosts"]] == ["h1", "h2"]
    matrix = data["matrix"]
    assert matrix["hosts"] == ["h1", "h2"]  # h3 has no port: no column
    cells = matrix["networks"][0]["cells"]
    assert cells["h1"] == {"ports": 1, "active": 1, "floods_to": ["192.0.2.2"]}
    assert {p["status"] for p in data["ports"]["ports"]} == {"ACTIVE"}
    assert api.client.get("/ui/api/fabric", params={"ports_limit": "x"}).status_code == 400


def test_explain_panel_server_stages(api: Api) -> None:
    for i, h in enumerate(("h1", "h2", "h3"), 1):
        api.host(h, f"192.0.2.{i}")
    net = api.network(**NET_FIELDS)
    other = api.network(name="blue", **{"provider:segmentation_id": 200})
    mine = api.port(net["id"], **{"binding:host_id": "h1"})
    port = api.port(net["id"], fixed_ips=[{"ip_address": "198.51.100.2"}],
                    **{"binding:host_id": "h2"})  # fmt: skip
    api.ok("PUT", f"/v1/hosts/h2/ports/{port['id']}/status", {"status": "ACTIVE"})
    api.ok("PUT", f"/v1/hosts/h1/ports/{mine['id']}/status", {"status": "ACTIVE"})
    api.port(other["id"], fixed_ips=[{"ip_address": "198.51.100.2"}])
    assert login(api, ADMIN) == 303

    def ask(**body: object) -> tuple[int, dict[str, object]]:
        response = api.client.post("/ui/api/explain", json=body)
        return response.status_code, response.json()

    status, answer = ask(host="h1", target="198.51.100.2")
    assert status == 400
    assert "several networks" in str(answer["error"])
    status, answer = ask(host="h1", target="198.51.100.2", network="demo")
    assert status == 200
    assert answer["verdict"] == "ok"
    assert [s["ok"] for s in answer["stages"]] == [True, True, True, None, None]  # type: ignore[index]
    status, answer = ask(host="h3", target=port["mac_address"])
    assert (answer["verdict"], answer["first_failure"]) == ("broken", "scope")
    status, answer = ask(host="h1", target="198.51.100.99")
    assert answer["first_failure"] == "server"
    assert ask(host="h1", target="nonsense")[0] == 400
    huge = api.client.post("/ui/api/explain", content=b"{" + b" " * 5000 + b"}")
    assert huge.status_code == 413


def test_remote_endpoints_are_shown_read_only(api: Api) -> None:
    """EVPN routes a gateway imported appear in the view, with the gateways holding them."""
    net = api.network(**NET_FIELDS)
    token = api.ok("POST", "/v1/gateways", {"name": "gw1"})["token"]
    routes = [
        {"network_id": net["id"], "type": "flood", "vtep": "198.18.0.7"},
        {"network_id": net["id"], "type": "mac", "vtep": "198.18.0.7",
         "mac_address": "52:54:00:00:00:07", "ip_address": "198.51.100.70"},
    ]  # fmt: skip
    api.ok("POST", "/v1/remote-endpoints", {"add": routes}, token)
    assert login(api, ADMIN) == 303
    data = api.client.get("/ui/api/fabric", params={"remote_limit": "1"}).json()
    assert data["remote"]["total"] == 2
    assert len(data["remote"]["remote"]) == 1
    data = api.client.get("/ui/api/fabric").json()
    rows = {r["type"]: r for r in data["remote"]["remote"]}
    assert rows["mac"]["mac"] == "52:54:00:00:00:07"
    assert rows["mac"]["ip"] == "198.51.100.70"
    assert rows["flood"]["vtep"] == "198.18.0.7"
    assert all(r["gateways"] == ["gw1"] and r["network"] == "demo" for r in rows.values())
    assert api.client.get("/ui/api/fabric", params={"remote_offset": "x"}).status_code == 400
