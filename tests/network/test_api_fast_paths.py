"""The fast paths of the Neutron API render and allocate exactly as the plain ones.

Lists render Core rows (JSON and timestamps as the database keeps them), a single resource its ORM object:
the two must agree on every attribute. Automatic addresses start after the last one handed out and wrap
around to addresses freed meanwhile, until the subnet is exhausted.
"""

from __future__ import annotations

import uuid

N = "/network/v2.0"


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
