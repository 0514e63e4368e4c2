"""Neutron's tag API (``standard-attr-tag``), list filters on JSON attributes (tags, a port's security
groups) with pagination, and ``subnet-external-network``."""

from __future__ import annotations

import uuid

import pytest

N = "/network/v2.0"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def member(cloud):
    with cloud.http(cloud.token("demo", cloud.password("kumo"), "demo")) as client:
        yield client


@pytest.fixture
def net(admin):
    network = admin.post(f"{N}/networks", json={"network": {"name": unique("tagnet")}}).json()["network"]
    yield network
    admin.delete(f"{N}/networks/{network['id']}")


def _aliases(client) -> set[str]:
    return {e["alias"] for e in client.get(f"{N}/extensions").json()["extensions"]}


def test_extension_list_says_what_is_implemented(admin):
    aliases = _aliases(admin)
    assert {"standard-attr-tag", "subnet-external-network"} <= aliases
    assert "filter-validation" not in aliases  # unknown filters are ignored, not rejected
    assert admin.get(f"{N}/extensions/subnet-external-network").json()["extension"]["name"] == \
        "Subnet belongs to an external network"


def test_subnets_of_the_external_network_are_visible_and_flagged(admin, member, net):
    public = member.get(f"{N}/networks", params={"router:external": "True"}).json()["networks"]
    assert public and all(n["router:external"] for n in public)
    public_id = public[0]["id"]
    seen = member.get(f"{N}/subnets", params={"network_id": public_id}).json()["subnets"]
    assert seen and all(s["router:external"] is True for s in seen)
    private = admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                          "cidr": "10.91.0.0/24"}}).json()["subnet"]
    assert private["router:external"] is False
    external_only = admin.get(f"{N}/subnets", params={"router:external": "true"}).json()["subnets"]
    assert {s["network_id"] for s in external_only} == {public_id}
    internal_only = {s["id"] for s in admin.get(f"{N}/subnets", params={"router:external": "false"}).json()["subnets"]}
    assert private["id"] in internal_only and not internal_only & {s["id"] for s in seen}
    shown = admin.get(f"{N}/subnets/{private['id']}", params={"fields": "router:external"}).json()["subnet"]
    assert shown == {"router:external": False}
    readonly = admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                           "cidr": "10.92.0.0/24", "router:external": True}})
    assert readonly.status_code == 400 and readonly.json()["NeutronError"]["type"] == "HTTPBadRequest"


def test_tag_lifecycle(admin, net):
    base = f"{N}/networks/{net['id']}/tags"
    added = admin.put(f"{base}/red")
    assert added.status_code == 201 and added.content == b""
    assert admin.put(f"{base}/red").status_code == 201  # idempotent
    assert admin.get(base).json() == {"tags": ["red"]}
    assert admin.get(f"{base}/red").status_code == 204
    missing = admin.get(f"{base}/blue")
    assert missing.status_code == 404 and missing.json()["NeutronError"]["type"] == "TagNotFound"
    before = admin.get(f"{N}/networks/{net['id']}").json()["network"]["revision_number"]
    replaced = admin.put(base, json={"tags": ["x", "y"]})
    assert replaced.status_code == 200 and replaced.json() == {"tags": ["x", "y"]}
    shown = admin.get(f"{N}/networks/{net['id']}").json()["network"]
    assert sorted(shown["tags"]) == ["x", "y"] and shown["revision_number"] > before
    assert admin.delete(f"{base}/x").status_code == 204
    assert admin.delete(f"{base}/x").status_code == 404
    assert admin.delete(base).status_code == 204
    assert admin.get(base).json() == {"tags": []}
    assert admin.get(f"{N}/networks/{uuid.uuid4().hex}/tags").json()["NeutronError"]["type"] == "NetworkNotFound"


@pytest.mark.parametrize("body", [{"tags": ["a", "a"]}, {"tags": "a"}, {"tags": ["t" * 256]}, {"tag": ["a"]}])
def test_bad_tag_bodies_are_400(admin, net, body):
    resp = admin.put(f"{N}/networks/{net['id']}/tags", json=body)
    assert resp.status_code == 400 and resp.json()["NeutronError"]["type"] == "InvalidInput"


def test_tags_on_create_are_validated_for_every_taggable_resource(admin, net):
    bad = admin.post(f"{N}/security-groups", json={"security_group": {"name": unique("sg"), "tags": "nope"}})
    assert bad.status_code == 400
    group = admin.post(f"{N}/security-groups", json={"security_group": {"name": unique("sg"), "tags": ["g"]}})
    assert group.status_code == 201 and group.json()["security_group"]["tags"] == ["g"]
    pool = admin.post(f"{N}/subnetpools", json={"subnetpool": {"name": unique("pool"), "prefixes": ["10.93.0.0/16"],
                                                               "tags": ["p"]}})
    assert pool.status_code == 201 and pool.json()["subnetpool"]["tags"] == ["p"]
    for collection, item in (("security-groups", group.json()["security_group"]),
                             ("subnetpools", pool.json()["subnetpool"])):
        assert admin.get(f"{N}/{collection}/{item['id']}/tags").json() == {"tags": [item["tags"][0]]}
        assert admin.delete(f"{N}/{collection}/{item['id']}").status_code == 204


def test_member_cannot_tag_what_it_does_not_own(admin, member, net):
    assert member.put(f"{N}/networks/{net['id']}/tags/mine").status_code == 404
    public = member.get(f"{N}/networks", params={"router:external": "True"}).json()["networks"][0]
    assert member.put(f"{N}/networks/{public['id']}/tags/mine").status_code == 403
    assert admin.get(f"{N}/networks/{public['id']}/tags").json() == {"tags": []}


def test_tag_filters_apply_before_pagination(admin):
    tag = unique("t")
    made = [admin.post(f"{N}/networks", json={"network": {"name": f"{tag}-{i}"}}).json()["network"]
            for i in range(3)]
    try:
        assert admin.put(f"{N}/networks/{made[2]['id']}/tags/{tag}").status_code == 201
        page = admin.get(f"{N}/networks", params={"tags": tag, "limit": 1, "sort_key": "name"}).json()
        assert [n["id"] for n in page["networks"]] == [made[2]["id"]]
        others = admin.get(f"{N}/networks", params={"not-tags": tag, "name": made[0]["name"]}).json()["networks"]
        assert [n["id"] for n in others] == [made[0]["id"]]
        rules = admin.get(f"{N}/security-group-rules", params={"tags": tag}).json()["security_group_rules"]
        assert rules == []  # rules carry no tags
    finally:
        for network in made:
            admin.delete(f"{N}/networks/{network['id']}")


def test_ports_filter_by_security_group(admin, net):
    group = admin.post(f"{N}/security-groups", json={"security_group": {"name": unique("sg")}}).json()[
        "security_group"]
    plain = admin.post(f"{N}/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    guarded = [admin.post(f"{N}/ports", json={"port": {"network_id": net["id"], "name": f"g{i}",
                                                       "security_groups": [group["id"]]}}).json()["port"]
               for i in range(2)]
    try:
        assert "port-security-groups-filtering" in _aliases(admin)
        found = admin.get(f"{N}/ports", params={"security_groups": group["id"]}).json()["ports"]
        assert sorted(p["id"] for p in found) == sorted(p["id"] for p in guarded)
        page = admin.get(f"{N}/ports", params={"security_groups": group["id"], "limit": 1, "sort_key": "name",
                                               "sort_dir": "desc"}).json()["ports"]
        assert [p["name"] for p in page] == ["g1"]
        either = admin.get(f"{N}/ports", params=[("security_groups", group["id"]),
                                                 ("security_groups", plain["security_groups"][0]),
                                                 ("network_id", net["id"])]).json()["ports"]
        assert len(either) == 3
    finally:
        for port in [plain, *guarded]:
            admin.delete(f"{N}/ports/{port['id']}")
        admin.delete(f"{N}/security-groups/{group['id']}")
