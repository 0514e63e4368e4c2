"""The fast paths of the Neutron API render and allocate exactly as the plain ones.

Lists render Core rows (JSON and timestamps as the database keeps them), a single resource its ORM object
(a network: one joined statement): the two must agree on every attribute. A create's reply is not read
back (a port's fixed IPs are those just allocated, a network's segment is chosen before its row is
written). Automatic addresses start after the last one handed out and wrap around to addresses freed
meanwhile, until the subnet is exhausted.
"""

from __future__ import annotations

import uuid

import pytest

N = "/network/v2.0"


@pytest.fixture
def member(cloud):
    with cloud.http(cloud.token("demo", cloud.password("kumo"), "demo")) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_list_and_show_render_the_same_port_and_network(admin):
    net = admin.post(f"{N}/networks", json={"network": {
        "name": unique("fast"), "description": "d", "availability_zone_hints": ["nova"]}}).json()["network"]
    try:
        assert admin.put(f"{N}/networks/{net['id']}/tags", json={"tags": ["b", "a"]}).status_code == 200
        admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                    "cidr": "10.77.0.0/24"}}).raise_for_status()
        group = admin.post(f"{N}/security-groups", json={"security_group": {"name": unique("g")}}).json()
        group = group["security_group"]
        resp = admin.post(f"{N}/ports", json={"port": {
            "network_id": net["id"], "name": "p", "security_groups": [group["id"]],
            "allowed_address_pairs": [{"ip_address": "10.77.0.200"}], "binding:profile": {"k": "v"},
            "extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1400"}], "tags": ["t"]}})
        assert resp.status_code == 201, resp.text
        created = resp.json()["port"]
        shown = admin.get(f"{N}/ports/{created['id']}").json()["port"]
        listed = admin.get(f"{N}/ports", params={"network_id": net["id"]}).json()["ports"]
        paged = admin.get(f"{N}/ports", params={"network_id": net["id"], "limit": 1}).json()["ports"]
        assert listed == paged == [shown]
        assert {k: v for k, v in created.items() if k not in ("status", "updated_at", "revision_number")} == \
            {k: v for k, v in shown.items() if k not in ("status", "updated_at", "revision_number")}
        assert shown["binding:profile"] == {"k": "v"} and shown["tags"] == ["t"]
        assert shown["allowed_address_pairs"][0]["ip_address"] == "10.77.0.200"
        assert shown["created_at"].endswith("Z") and len(shown["created_at"]) == 20
        net_shown = admin.get(f"{N}/networks/{net['id']}").json()["network"]
        net_listed = admin.get(f"{N}/networks", params={"id": net["id"]}).json()["networks"]
        assert net_listed == [net_shown] and sorted(net_shown["tags"]) == ["a", "b"]
        assert net_shown["availability_zone_hints"] == ["nova"]
        assert admin.get(f"{N}/ports", params={"network_id": net["id"], "tags": "t"}).json()["ports"] == [shown]
        assert admin.get(f"{N}/ports", params={"network_id": net["id"], "not-tags": "t"}).json()["ports"] == []
    finally:
        for port in admin.get(f"{N}/ports", params={"network_id": net["id"]}).json()["ports"]:
            admin.delete(f"{N}/ports/{port['id']}")
        admin.delete(f"{N}/networks/{net['id']}")
        if "group" in locals():
            admin.delete(f"{N}/security-groups/{group['id']}")


def test_addresses_wrap_around_to_freed_ones_until_exhausted(admin):
    net = admin.post(f"{N}/networks", json={"network": {"name": unique("wrap")}}).json()["network"]
    try:
        sub = admin.post(f"{N}/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.78.0.0/29", "gateway_ip": "10.78.0.4",
            "allocation_pools": [{"start": "10.78.0.2", "end": "10.78.0.3"},
                                 {"start": "10.78.0.5", "end": "10.78.0.6"}]}}).json()["subnet"]

        def create():
            return admin.post(f"{N}/ports", json={"port": {"network_id": net["id"], "fixed_ips": [
                {"subnet_id": sub["id"]}]}})

        ports = [create().json()["port"] for _ in range(3)]
        assert [p["fixed_ips"][0]["ip_address"] for p in ports] == ["10.78.0.2", "10.78.0.3", "10.78.0.5"]
        assert admin.delete(f"{N}/ports/{ports[0]['id']}").status_code == 204
        assert create().json()["port"]["fixed_ips"][0]["ip_address"] == "10.78.0.6"  # after the last one
        assert create().json()["port"]["fixed_ips"][0]["ip_address"] == "10.78.0.2"  # wrapped to the freed one
        full = create()
        assert full.status_code == 409 and full.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    finally:
        for port in admin.get(f"{N}/ports", params={"network_id": net["id"]}).json()["ports"]:
            admin.delete(f"{N}/ports/{port['id']}")
        admin.delete(f"{N}/networks/{net['id']}")


def test_network_show_is_one_statement_yet_complete_and_scoped(admin, member):
    private = admin.post(f"{N}/networks", json={"network": {"name": unique("show")}}).json()["network"]
    shared = admin.post(f"{N}/networks", json={"network": {"name": unique("shared"), "shared": True}}).json()
    shared = shared["network"]
    try:
        assert admin.get(f"{N}/networks/{private['id']}").json()["network"]["subnets"] == []
        subnets = [admin.post(f"{N}/subnets", json={"subnet": {"network_id": private["id"], **body}}).json()["subnet"]
                   for body in ({"ip_version": 4, "cidr": "10.79.0.0/24"},
                                {"ip_version": 6, "cidr": "fd79::/64", "ipv6_address_mode": "slaac",
                                 "ipv6_ra_mode": "slaac"})]
        shown = admin.get(f"{N}/networks/{private['id']}").json()["network"]
        assert shown["subnets"] == sorted(s["id"] for s in subnets)
        assert admin.get(f"{N}/networks", params={"id": private["id"]}).json()["networks"] == [shown]
        assert {k for k in shown if k.startswith("provider:")} == \
            {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}
        assert admin.get(f"{N}/networks/{private['id']}", params={"fields": "subnets"}).json() == \
            {"network": {"subnets": shown["subnets"]}}
        # another project's private network is not found; a shared one is seen, without provider attributes
        hidden = member.get(f"{N}/networks/{private['id']}")
        assert hidden.status_code == 404 and hidden.json()["NeutronError"]["type"] == "NetworkNotFound"
        seen = member.get(f"{N}/networks/{shared['id']}").json()["network"]
        assert seen["id"] == shared["id"] and not any(k.startswith("provider:") for k in seen)
        missing = admin.get(f"{N}/networks/{uuid.uuid4()}")
        assert missing.status_code == 404 and missing.json()["NeutronError"]["type"] == "NetworkNotFound"
        # a port's reply shows the addresses just allocated (IPv4 and SLAAC), exactly as a later read does
        port = admin.post(f"{N}/ports", json={"port": {"network_id": private["id"]}}).json()["port"]
        assert len(port["fixed_ips"]) == 2
        assert admin.get(f"{N}/ports/{port['id']}").json()["port"]["fixed_ips"] == port["fixed_ips"]
    finally:
        for port in admin.get(f"{N}/ports", params={"network_id": private["id"]}).json()["ports"]:
            admin.delete(f"{N}/ports/{port['id']}")
        admin.delete(f"{N}/networks/{private['id']}")
        admin.delete(f"{N}/networks/{shared['id']}")


def test_network_create_writes_its_segment_once(admin):
    made = []
    try:
        for _ in range(3):
            made.append(admin.post(f"{N}/networks", json={"network": {"name": unique("seg")}}).json()["network"])
        ids = [n["provider:segmentation_id"] for n in made]
        assert len(set(ids)) == 3 and all(isinstance(i, int) and i > 0 for i in ids)
        assert [admin.get(f"{N}/networks/{n['id']}").json()["network"]["provider:segmentation_id"]
                for n in made] == ids
        taken = admin.post(f"{N}/networks", json={"network": {
            "name": unique("seg"), "provider:network_type": "vxlan", "provider:segmentation_id": ids[0]}})
        assert taken.status_code == 409, taken.text
        assert taken.json()["NeutronError"]["type"] == "SegmentationIdInUse"
        names = {n["name"] for n in admin.get(f"{N}/networks").json()["networks"]}
        assert not any(n.startswith("seg-") and n not in {m["name"] for m in made} for n in names)  # rolled back
    finally:
        for net in made:
            admin.delete(f"{N}/networks/{net['id']}")
