"""Deleting a server: the ports Nova made for it go with it; a port the user passed in stays, unbound
(Nova's ``preserve_on_delete``), ready for another server."""

from __future__ import annotations

from tests.compute.conftest import unique, wait_status


def test_a_passed_in_port_outlives_its_server_and_a_created_one_does_not(sim, tenant, image_ids):
    neutron = sim.http(tenant.users["member"][3])
    try:
        net = neutron.post("/network/v2.0/networks", json={"network": {"name": unique("net")}}).json()["network"]
        resp = neutron.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": "10.123.0.0/24", "ip_version": 4}})
        assert resp.status_code == 201, resp.text
        mine = neutron.post("/network/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        resp = tenant.member.post("/servers", json={"server": {
            "name": unique("vm"), "imageRef": image_ids[0], "flavorRef": "6",
            "networks": [{"port": mine["id"]}, {"uuid": net["id"]}]}})
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        wait_status(tenant.member, server_id, "ACTIVE")
        bound = neutron.get("/network/v2.0/ports", params={"device_id": server_id}).json()["ports"]
        assert {p["id"] for p in bound} >= {mine["id"]} and len(bound) == 2
        made = next(p["id"] for p in bound if p["id"] != mine["id"])

        assert tenant.member.delete(f"/servers/{server_id}").status_code == 204
        wait_status(tenant.member, server_id, "DELETED")
        kept = neutron.get(f"/network/v2.0/ports/{mine['id']}")
        assert kept.status_code == 200
        port = kept.json()["port"]
        assert (port["device_id"], port["device_owner"], port["status"]) == ("", "", "DOWN")
        assert port["fixed_ips"] == mine["fixed_ips"]
        assert neutron.get(f"/network/v2.0/ports/{made}").status_code == 404

        # the kept port serves the next server
        again = tenant.member.post("/servers", json={"server": {
            "name": unique("vm"), "imageRef": image_ids[0], "flavorRef": "6", "networks": [{"port": mine["id"]}]}})
        assert again.status_code == 202, again.text
        wait_status(tenant.member, again.json()["server"]["id"], "ACTIVE")
        assert neutron.get(f"/network/v2.0/ports/{mine['id']}").json()["port"]["device_id"] == \
            again.json()["server"]["id"]
        assert tenant.member.delete(f"/servers/{again.json()['server']['id']}").status_code == 204
        wait_status(tenant.member, again.json()["server"]["id"], "DELETED")
        assert neutron.delete(f"/network/v2.0/ports/{mine['id']}").status_code == 204
        assert neutron.delete(f"/network/v2.0/networks/{net['id']}").status_code == 204
    finally:
        neutron.close()
