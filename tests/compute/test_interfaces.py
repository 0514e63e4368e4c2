"""Interface attach and detach (os-interface), Nova's rules, on the simulated backend: bodies and codes, which
ports outlive a detach or the server, and the instance actions. (Inside a real instance:
``test_interfaces_local.py``.)"""

from __future__ import annotations

from tests.compute.conftest import unique, wait_status


def test_attach_and_detach_follow_novas_rules(sim, tenant, image_ids):
    neutron = sim.http(tenant.users["member"][3])
    nova = tenant.member
    try:
        net = neutron.post("/network/v2.0/networks", json={"network": {"name": unique("net")}}).json()["network"]
        subnet = neutron.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": "10.124.0.0/24", "ip_version": 4}}).json()["subnet"]
        resp = nova.post("/servers", json={"server": {"name": unique("vm"), "imageRef": image_ids[0],
                                                      "flavorRef": "6", "networks": [{"uuid": net["id"]}]}})
        server_id = resp.json()["server"]["id"]
        wait_status(nova, server_id, "ACTIVE")
        base = f"/servers/{server_id}/os-interface"

        made = nova.post(base, json={"interfaceAttachment": {"net_id": net["id"],
                                                             "fixed_ips": [{"ip_address": "10.124.0.50"}]}})
        assert made.status_code == 200, made.text
        made = made.json()["interfaceAttachment"]
        assert set(made) == {"port_id", "net_id", "mac_addr", "port_state", "fixed_ips"}
        assert made["net_id"] == net["id"]
        assert made["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.124.0.50"}]
        port = neutron.get(f"/network/v2.0/ports/{made['port_id']}").json()["port"]
        assert (port["device_id"], port["device_owner"]) == (server_id, "compute:nova")

        mine = neutron.post("/network/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        passed = nova.post(base, json={"interfaceAttachment": {"port_id": mine["id"]}})
        assert passed.status_code == 200, passed.text
        assert passed.json()["interfaceAttachment"]["mac_addr"] == mine["mac_address"]
        assert len(nova.get(base).json()["interfaceAttachments"]) == 3
        assert nova.get(f"{base}/{mine['id']}").json()["interfaceAttachment"]["port_id"] == mine["id"]

        # Nova's refusals
        missing = "00000000-0000-4000-8000-000000000000"
        cases = [({"port_id": mine["id"]}, 409), ({"port_id": missing}, 404), ({"net_id": missing}, 404),
                 ({"net_id": net["id"], "port_id": mine["id"]}, 400),
                 ({"fixed_ips": [{"ip_address": "10.124.0.51"}]}, 400),
                 ({"net_id": net["id"], "fixed_ips": [{"ip_address": "10.124.0.50"}]}, 409),
                 ({"net_id": net["id"], "fixed_ips": [{"ip_address": "not-an-ip"}]}, 400),
                 ({"port_id": "nope"}, 400), ({"tag": "a"}, 400)]
        for attachment, code in cases:
            resp = nova.post(base, json={"interfaceAttachment": attachment})
            assert resp.status_code == code, (attachment, resp.text)
        assert nova.post(f"/servers/{missing}/os-interface", json={"interfaceAttachment": {}}).status_code == 404
        assert nova.delete(f"{base}/{missing}").status_code == 404
        assert nova.post(f"/servers/{server_id}/action", json={"lock": None}).status_code == 202
        locked = nova.post(base, json={"interfaceAttachment": {"net_id": net["id"]}})
        assert locked.status_code == 409 and "locked" in locked.json()["conflictingRequest"]["message"]
        assert nova.delete(f"{base}/{mine['id']}").status_code == 409
        assert nova.post(f"/servers/{server_id}/action", json={"unlock": None}).status_code == 202
        assert nova.post(f"/servers/{server_id}/action", json={"suspend": None}).status_code == 202
        wait_status(nova, server_id, "SUSPENDED")
        busy = nova.post(base, json={"interfaceAttachment": {"net_id": net["id"]}})
        assert busy.status_code == 409
        assert busy.json()["conflictingRequest"]["message"] == \
            f"Cannot 'attach_interface' instance {server_id} while it is in vm_state suspended"
        assert nova.post(f"/servers/{server_id}/action", json={"resume": None}).status_code == 202
        wait_status(nova, server_id, "ACTIVE")

        # detach: the port attach made is deleted, the one passed in stays, unbound
        assert nova.delete(f"{base}/{made['port_id']}").status_code == 202
        assert neutron.get(f"/network/v2.0/ports/{made['port_id']}").status_code == 404
        assert nova.delete(f"{base}/{mine['id']}").status_code == 202
        kept = neutron.get(f"/network/v2.0/ports/{mine['id']}").json()["port"]
        assert (kept["device_id"], kept["device_owner"], kept["status"]) == ("", "", "DOWN")
        assert nova.delete(f"{base}/{mine['id']}").status_code == 404
        assert len(nova.get(base).json()["interfaceAttachments"]) == 1
        actions = [a["action"] for a in nova.get(f"/servers/{server_id}/os-instance-actions").json()["instanceActions"]]
        assert actions[:2] == ["detach_interface", "detach_interface"] and actions.count("attach_interface") == 2

        # a port passed in by attach outlives the server too; one made by attach goes with it
        assert nova.post(base, json={"interfaceAttachment": {"port_id": mine["id"]}}).status_code == 200
        gone = nova.post(base, json={"interfaceAttachment": {"net_id": net["id"]}}).json()["interfaceAttachment"]
        assert nova.delete(f"/servers/{server_id}").status_code == 204
        wait_status(nova, server_id, "DELETED")
        assert neutron.get(f"/network/v2.0/ports/{mine['id']}").json()["port"]["device_id"] == ""
        assert neutron.get(f"/network/v2.0/ports/{gone['port_id']}").status_code == 404
        assert neutron.delete(f"/network/v2.0/ports/{mine['id']}").status_code == 204
        assert neutron.delete(f"/network/v2.0/networks/{net['id']}").status_code == 204
    finally:
        neutron.close()
