"""Neutron v2.0 through the stock CLI and raw HTTP: lifecycles, wire details, negatives."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

N = "/network/v2.0"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def net(admin):
    network = admin.post(f"{N}/networks", json={"network": {"name": unique("net")}}).json()["network"]
    yield network
    for port in admin.get(f"{N}/ports", params={"network_id": network["id"]}).json()["ports"]:
        admin.delete(f"{N}/ports/{port['id']}")
    admin.delete(f"{N}/networks/{network['id']}")


def test_cli_network_lifecycle(cloud):
    name = unique("clinet")
    created = cloud.openstack("network", "create", name, "-f", "json")
    assert created["name"] == name and created["status"] == "ACTIVE" and created["mtu"] == 1450
    subnet = cloud.openstack("subnet", "create", "--network", name, "--subnet-range", "10.20.0.0/24",
                             unique("sub"), "-f", "json")
    assert subnet["gateway_ip"] == "10.20.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    port = cloud.openstack("port", "create", "--network", name, unique("port"), "-f", "json")
    assert port["fixed_ips"][0]["ip_address"] == "10.20.0.2"
    assert port["mac_address"].startswith("fa:16:3e:")
    shown = cloud.openstack("network", "show", name, "-f", "json")
    assert shown["subnets"] == [subnet["id"]]
    cloud.openstack("port", "delete", port["id"])
    cloud.openstack("network", "delete", name)
    gone = cloud.openstack("network", "show", name, check=False)
    assert gone.returncode != 0


def test_error_body_and_404(admin):
    resp = admin.get(f"{N}/networks/{uuid.uuid4()}")
    assert resp.status_code == 404
    error = resp.json()["NeutronError"]
    assert error["type"] == "NetworkNotFound" and "could not be found" in error["message"]
    assert admin.get(f"{N}/nonsense").status_code == 404


def test_fields_filters_sorting_pagination(admin, net):
    sub = admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                      "cidr": "10.30.0.0/24"}}).json()["subnet"]
    names = [unique("p") for _ in range(5)]
    for name in names:
        assert admin.post(f"{N}/ports", json={"port": {"network_id": net["id"], "name": name}}).status_code == 201
    only = admin.get(f"{N}/ports", params={"network_id": net["id"], "fields": ["id", "name"]}).json()["ports"]
    assert all(set(p) == {"id", "name"} for p in only) and len(only) == 5
    ordered = admin.get(f"{N}/ports", params={"network_id": net["id"], "sort_key": "name",
                                              "sort_dir": "desc"}).json()["ports"]
    assert [p["name"] for p in ordered] == sorted(names, reverse=True)
    seen, marker = [], None
    while True:
        params = {"network_id": net["id"], "limit": 2, "sort_key": "name", "sort_dir": "asc"}
        if marker:
            params["marker"] = marker
        page = admin.get(f"{N}/ports", params=params).json()
        seen += [p["name"] for p in page["ports"]]
        nxt = [link for link in page["ports_links"] if link["rel"] == "next"]
        if not nxt:
            break
        marker = page["ports"][-1]["id"]
    assert seen == sorted(names)
    by_ip = admin.get(f"{N}/ports", params={"fixed_ips": "ip_address=10.30.0.2"}).json()["ports"]
    assert len(by_ip) == 1 and by_ip[0]["fixed_ips"][0]["subnet_id"] == sub["id"]


def test_bulk_create_is_all_or_nothing(admin, net):
    ok = admin.post(f"{N}/ports", json={"ports": [{"network_id": net["id"]}, {"network_id": net["id"]}]})
    assert ok.status_code == 201 and len(ok.json()["ports"]) == 2
    before = len(admin.get(f"{N}/ports", params={"network_id": net["id"]}).json()["ports"])
    bad = admin.post(f"{N}/ports", json={"ports": [{"network_id": net["id"]}, {"network_id": "nope"}]})
    assert bad.status_code == 404
    assert len(admin.get(f"{N}/ports", params={"network_id": net["id"]}).json()["ports"]) == before


def test_concurrent_ports_never_share_an_address(cloud, admin, net):
    admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                "cidr": "10.40.0.0/26"}})
    token = cloud.token()

    def create(_):
        with cloud.http(token) as client:
            return client.post(f"{N}/ports", json={"port": {"network_id": net["id"]}})

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(create, range(70)))
    codes = sorted(r.status_code for r in replies)
    assert set(codes) <= {201, 409}, codes
    created = [r.json()["port"] for r in replies if r.status_code == 201]
    assert len(created) == 61  # a /26 has 62 usable addresses, one of them the gateway
    ips = [p["fixed_ips"][0]["ip_address"] for p in created]
    macs = [p["mac_address"] for p in created]
    assert len(set(ips)) == len(ips) and len(set(macs)) == len(macs)
    failures = [r.json()["NeutronError"]["type"] for r in replies if r.status_code == 409]
    assert set(failures) == {"IpAddressGenerationFailure"}


def test_slaac_address_is_eui64(admin, net):
    sub = admin.post(f"{N}/subnets", json={"subnet": {
        "network_id": net["id"], "ip_version": 6, "cidr": "2001:db8:1::/64", "ipv6_ra_mode": "slaac",
        "ipv6_address_mode": "slaac"}}).json()["subnet"]
    port = admin.post(f"{N}/ports", json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:11:22"}})
    address = port.json()["port"]["fixed_ips"][0]
    assert address == {"subnet_id": sub["id"], "ip_address": "2001:db8:1:0:f816:3eff:fe00:1122"}


@pytest.mark.parametrize("ra,addr", [("slaac", "dhcpv6-stateful"), ("dhcpv6-stateless", "slaac"),
                                     ("bogus", None)])
def test_invalid_ipv6_modes(admin, net, ra, addr):
    body = {"network_id": net["id"], "ip_version": 6, "cidr": "2001:db8:2::/64", "ipv6_ra_mode": ra}
    if addr:
        body["ipv6_address_mode"] = addr
    assert admin.post(f"{N}/subnets", json={"subnet": body}).status_code == 400


def test_overlapping_subnet_and_bad_cidr(admin, net):
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "10.50.0.0/24"}
    assert admin.post(f"{N}/subnets", json={"subnet": body}).status_code == 201
    overlap = admin.post(f"{N}/subnets", json={"subnet": {**body, "cidr": "10.50.0.0/25"}})
    assert overlap.status_code == 400
    assert admin.post(f"{N}/subnets", json={"subnet": {**body, "cidr": "10.60.0.1/24"}}).status_code == 400
    assert admin.post(f"{N}/subnets", json={"subnet": {**body, "cidr": "nonsense"}}).status_code == 400


def test_security_group_rules(admin):
    group = admin.post(f"{N}/security-groups", json={"security_group": {"name": unique("sg")}}).json()
    gid = group["security_group"]["id"]
    assert {r["direction"] for r in group["security_group"]["security_group_rules"]} == {"egress"}
    rule = {"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
            "port_range_max": 80, "ethertype": "IPv4"}
    assert admin.post(f"{N}/security-group-rules", json={"security_group_rule": rule}).status_code == 201
    dup = admin.post(f"{N}/security-group-rules", json={"security_group_rule": rule})
    assert dup.status_code == 409 and dup.json()["NeutronError"]["type"] == "SecurityGroupRuleExists"
    for bad in ({"protocol": "bogus"}, {"port_range_min": 90, "port_range_max": 80},
                {"remote_ip_prefix": "10.0.0.0/33"}, {"ethertype": "IPv5"},
                {"remote_ip_prefix": "2001:db8::/64"}):
        resp = admin.post(f"{N}/security-group-rules", json={"security_group_rule": {**rule, **bad}})
        assert resp.status_code == 400, (bad, resp.text)
    default = admin.post(f"{N}/security-groups", json={"security_group": {"name": "default"}})
    assert default.status_code == 409
    assert admin.delete(f"{N}/security-groups/{gid}").status_code == 204


def test_router_negatives(admin, net):
    public = admin.get(f"{N}/networks", params={"router:external": "true"}).json()["networks"][0]
    router = admin.post(f"{N}/routers", json={"router": {"name": unique("r"),
                                                         "external_gateway_info": {"network_id": public["id"]}}})
    assert router.status_code == 201
    rid = router.json()["router"]["id"]
    not_external = admin.put(f"{N}/routers/{rid}", json={"router": {"external_gateway_info": {
        "network_id": net["id"]}}})
    assert not_external.status_code == 400
    sub = admin.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                      "cidr": "10.70.0.0/24"}}).json()["subnet"]
    assert admin.put(f"{N}/routers/{rid}/add_router_interface", json={"subnet_id": sub["id"]}).status_code == 200
    assert admin.delete(f"{N}/routers/{rid}").status_code == 409
    assert admin.put(f"{N}/routers/{rid}/remove_router_interface",
                     json={"subnet_id": sub["id"]}).status_code == 200
    assert admin.delete(f"{N}/routers/{rid}").status_code == 204
    assert admin.get(f"{N}/routers/{rid}").status_code == 404


def test_member_isolation(cloud):
    member = cloud.http(cloud.token("demo", cloud.password("kumo"), "demo"))
    admin = cloud.http(cloud.token())
    mine = member.post(f"{N}/networks", json={"network": {"name": unique("mine")}})
    assert mine.status_code == 201
    theirs = admin.post(f"{N}/networks", json={"network": {"name": unique("theirs")}}).json()["network"]
    assert member.get(f"{N}/networks/{theirs['id']}").status_code == 404
    listed = {n["id"] for n in member.get(f"{N}/networks").json()["networks"]}
    assert theirs["id"] not in listed and mine.json()["network"]["id"] in listed
    assert "provider:network_type" not in mine.json()["network"]
    shared = member.post(f"{N}/networks", json={"network": {"name": unique("s"), "shared": True}})
    assert shared.status_code == 403
    admin.delete(f"{N}/networks/{theirs['id']}")
    member.delete(f"{N}/networks/{mine.json()['network']['id']}")
