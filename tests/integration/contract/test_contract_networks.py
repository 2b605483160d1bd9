"""DESIGN §5 networks: shapes, VNI allocation and validation, updates, deletes."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from contract_support import (
    SMALL_MAX_BODY,
    VNI_HIGH,
    VNI_LOW,
    Api,
    ContractServer,
    assert_neutron_error,
    fresh_vni,
    unique,
)


def test_create_answers_201_with_the_neutron_network_shape(admin: Api) -> None:
    vni = fresh_vni()
    name = unique("n")
    net = admin.post(
        "/v2.0/networks",
        {
            "network": {
                "name": name,
                "provider:network_type": "vxlan",
                "provider:segmentation_id": vni,
            }
        },
    )["network"]
    assert uuid.UUID(net["id"])
    assert net["name"] == name
    assert net["provider:network_type"] == "vxlan"
    assert net["provider:segmentation_id"] == vni
    assert net["mtu"] == 1450
    assert isinstance(net["status"], str)
    assert net["admin_state_up"] is True
    assert admin.get(f"/v2.0/networks/{net['id']}") == {"network": net}
    listed = admin.get("/v2.0/networks")
    assert set(listed) == {"networks"}, "unpaged by default: no networks_links"
    assert net in listed["networks"]


def test_no_vni_gets_the_lowest_free_one_of_the_vni_range(special: ContractServer) -> None:
    api = special.admin()
    try:
        explicit = api.network(**{"provider:segmentation_id": VNI_LOW})
        first = api.network()
        second = api.network()
        assert first["provider:segmentation_id"] == VNI_LOW + 1
        assert second["provider:segmentation_id"] == VNI_LOW + 2
        api.delete(f"/v2.0/networks/{first['id']}")
        api.delete(f"/v2.0/networks/{explicit['id']}")
        assert api.network()["provider:segmentation_id"] == VNI_LOW
        assert api.network()["provider:segmentation_id"] == VNI_LOW + 1
        assert api.network()["provider:segmentation_id"] == VNI_HIGH
        exhausted = api.http.post("/v2.0/networks", json={"network": {"name": "full"}})
        assert 400 <= exhausted.status_code < 600
        assert exhausted.status_code != 500
        assert "NeutronError" in exhausted.json()
    finally:
        api.close()


def test_the_default_vni_range_is_1000_to_1999_lowest_free_first(admin: Api) -> None:
    used = {n["provider:segmentation_id"] for n in admin.get("/v2.0/networks")["networks"]}
    free = [vni for vni in range(1000, 2000) if vni not in used]
    first = admin.network()
    assert first["provider:segmentation_id"] == free[0]
    second = admin.network()
    assert second["provider:segmentation_id"] == free[1]
    admin.delete(f"/v2.0/networks/{first['id']}")
    assert admin.network()["provider:segmentation_id"] == free[0], "a freed VNI is reused"


def test_max_body_sets_the_413_limit(special: ContractServer) -> None:
    api = special.admin()
    headers = {"Content-Type": "application/json"}
    try:
        body = json.dumps({"network": {"name": "small", "provider:segmentation_id": fresh_vni()}})
        over = body + " " * (SMALL_MAX_BODY + 1 - len(body))
        response = api.http.post("/v2.0/networks", content=over, headers=headers)
        assert_neutron_error(response, 413)
        under = body + " " * (SMALL_MAX_BODY - 64 - len(body))
        response = api.http.post("/v2.0/networks", content=under, headers=headers)
        assert response.status_code == 201, response.text
    finally:
        api.close()


def test_concurrent_creates_without_vni_all_succeed_with_distinct_vnis(admin: Api) -> None:
    def create(i: int) -> tuple[int, str]:
        response = admin.http.post("/v2.0/networks", json={"network": {"name": unique("c")}})
        return response.status_code, response.text

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(create, range(64)))
    assert [status for status, _ in answers] == [201] * 64, [a for a in answers if a[0] != 201]
    vnis = {json.loads(text)["network"]["provider:segmentation_id"] for _, text in answers}
    assert len(vnis) == 64


@pytest.mark.parametrize("vni", ["1O0", "", 0, 16_777_216, -1, 1.5, True, [5]])
def test_a_bad_vni_is_400_and_creates_nothing(admin: Api, vni: object) -> None:
    name = unique("badvni")
    body = {"network": {"name": name, "provider:segmentation_id": vni}}
    assert_neutron_error(admin.http.post("/v2.0/networks", json=body), 400)
    assert name not in {n["name"] for n in admin.get("/v2.0/networks")["networks"]}


def test_the_vni_limits_are_accepted(admin: Api) -> None:
    for vni in (1, 16_777_215):
        net = admin.network(**{"provider:segmentation_id": vni})
        assert net["provider:segmentation_id"] == vni
        admin.delete(f"/v2.0/networks/{net['id']}")


def test_a_duplicate_vni_is_409(admin: Api) -> None:
    vni = fresh_vni()
    admin.network(**{"provider:segmentation_id": vni})
    body = {"network": {"name": "dup", "provider:segmentation_id": vni}}
    assert_neutron_error(admin.http.post("/v2.0/networks", json=body), 409)


def test_name_mtu_and_admin_state_up_are_updatable(admin: Api) -> None:
    net = admin.network()
    changed = admin.put(
        f"/v2.0/networks/{net['id']}",
        {"network": {"name": "renamed", "mtu": 1400, "admin_state_up": False}},
    )["network"]
    assert (changed["name"], changed["mtu"], changed["admin_state_up"]) == (
        "renamed",
        1400,
        False,
    )
    assert admin.get(f"/v2.0/networks/{net['id']}")["network"]["mtu"] == 1400


def test_changing_the_vni_is_400_and_changes_nothing(admin: Api) -> None:
    net = admin.network()
    body = {"network": {"provider:segmentation_id": fresh_vni()}}
    assert_neutron_error(admin.http.put(f"/v2.0/networks/{net['id']}", json=body), 400)
    assert admin.get(f"/v2.0/networks/{net['id']}")["network"] == net


def test_numeric_strings_are_integers_as_in_neutron(admin: Api) -> None:
    """The openstack CLI sends ``--provider-segment 1500`` as "1500"."""
    vni = fresh_vni()
    net = admin.network(mtu="1400", **{"provider:segmentation_id": str(vni)})
    assert (net["provider:segmentation_id"], net["mtu"]) == (vni, 1400)
    same = {"network": {"provider:segmentation_id": str(vni)}}
    answer = admin.put(f"/v2.0/networks/{net['id']}", same)["network"]
    assert answer["revision_number"] == net["revision_number"]
    other = {"network": {"provider:segmentation_id": str(vni + 1)}}
    assert_neutron_error(admin.http.put(f"/v2.0/networks/{net['id']}", json=other), 400)


def test_deleting_a_network_with_ports_is_409_and_204_once_empty(admin: Api) -> None:
    net = admin.network()
    port = admin.port(net["id"])
    assert_neutron_error(admin.http.delete(f"/v2.0/networks/{net['id']}"), 409)
    assert admin.get(f"/v2.0/networks/{net['id']}")["network"]["id"] == net["id"]
    admin.delete(f"/v2.0/ports/{port['id']}")
    admin.delete(f"/v2.0/networks/{net['id']}")
    assert_neutron_error(admin.http.get(f"/v2.0/networks/{net['id']}"), 404)


def test_an_unknown_network_list_filter_is_400(admin: Api) -> None:
    assert_neutron_error(admin.http.get("/v2.0/networks?colour=blue"), 400)


def test_networks_page_with_limit_and_marker(admin: Api) -> None:
    for _ in range(3):
        admin.network()
    everything = [n["id"] for n in admin.get("/v2.0/networks")["networks"]]
    seen: list[str] = []
    path: str | None = "/v2.0/networks?limit=2"
    for _ in range(len(everything)):
        assert path is not None
        page = admin.get(path)
        assert len(page["networks"]) <= 2
        seen += [n["id"] for n in page["networks"]]
        nexts = [link["href"] for link in page.get("networks_links", []) if link["rel"] == "next"]
        path = nexts[0] if nexts else None
        if path is None:
            break
    assert seen == everything
