"""Attributes of extensions Kumo does not list are refused (400), never silently dropped."""

from __future__ import annotations

import uuid

import pytest

N = "/network/v2.0"


@pytest.fixture
def net(admin):
    network = admin.post(f"{N}/networks", json={"network": {"name": f"attr-{uuid.uuid4().hex[:8]}"}}).json()[
        "network"]
    yield network
    for port in admin.get(f"{N}/ports", params={"network_id": network["id"]}).json()["ports"]:
        admin.delete(f"{N}/ports/{port['id']}")
    admin.delete(f"{N}/networks/{network['id']}")


@pytest.mark.parametrize("collection,singular,extra", [
    ("ports", "port", {"dns_name": "vm1"}), ("ports", "port", {"qos_policy_id": None}),
    ("ports", "port", {"propagate_uplink_status": True}), ("networks", "network", {"dns_domain": "x.org."}),
    ("subnets", "subnet", {"segment_id": None}), ("routers", "router", {"distributed": True}),
    ("routers", "router", {"flavor_id": "f"}), ("security-group-rules", "security_group_rule",
                                                {"remote_address_group_id": "g"}),
])
def test_unlisted_extension_attributes_are_400_on_create(admin, net, collection, singular, extra):
    bodies = {"ports": {"network_id": net["id"]}, "networks": {}, "routers": {},
              "subnets": {"network_id": net["id"], "ip_version": 4, "cidr": "10.94.0.0/24"},
              "security-group-rules": {"security_group_id": "x", "direction": "ingress"}}
    resp = admin.post(f"{N}/{collection}", json={singular: {**bodies[collection], **extra}})
    assert resp.status_code == 400, resp.text
    error = resp.json()["NeutronError"]
    assert error["type"] == "HTTPBadRequest" and f"'{next(iter(extra))}'" in error["message"]


def test_provider_attributes_cannot_change(admin, net):
    same = admin.put(f"{N}/networks/{net['id']}", json={"network": {
        "provider:network_type": net["provider:network_type"], "name": "renamed"}})
    assert same.status_code == 200 and same.json()["network"]["name"] == "renamed"
    changed = admin.put(f"{N}/networks/{net['id']}", json={"network": {"provider:segmentation_id": 4000}})
    assert changed.status_code == 400 and changed.json()["NeutronError"]["type"] == "InvalidInput"
    assert admin.get(f"{N}/networks/{net['id']}").json()["network"]["provider:segmentation_id"] == \
        net["provider:segmentation_id"]
    hints = admin.put(f"{N}/networks/{net['id']}", json={"network": {"availability_zone_hints": ["az"]}})
    assert hints.status_code == 400 and "read-only" in hints.json()["NeutronError"]["message"]


def test_tags_in_update_bodies_are_applied(admin, net):
    subnet = admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                         "cidr": "10.95.0.0/24"}}).json()["subnet"]
    updated = admin.put(f"{N}/subnets/{subnet['id']}", json={"subnet": {"tags": ["s"]}})
    assert updated.status_code == 200 and updated.json()["subnet"]["tags"] == ["s"]
    group = admin.post(f"{N}/security-groups", json={"security_group": {"name": "tagged"}}).json()["security_group"]
    try:
        tagged = admin.put(f"{N}/security-groups/{group['id']}", json={"security_group": {"tags": ["g"]}})
        assert tagged.status_code == 200 and tagged.json()["security_group"]["tags"] == ["g"]
        bad = admin.put(f"{N}/security-groups/{group['id']}", json={"security_group": {"tags": ["g", "g"]}})
        assert bad.status_code == 400
    finally:
        admin.delete(f"{N}/security-groups/{group['id']}")
