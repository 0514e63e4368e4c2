"""Trunk ports (Neutron's ``trunk`` and ``trunk-details`` extensions) over raw HTTP and the ``openstack`` CLI,
with Neutron's rules and error types, and the Kuryr nested-VLAN flow at API level."""

from __future__ import annotations

import uuid

import pytest

N = "/network/v2.0"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(reply, status: int, kind: str) -> str:
    assert reply.status_code == status, reply.text
    assert reply.json()["NeutronError"]["type"] == kind, reply.text
    return reply.json()["NeutronError"]["message"]


def vlan(port: dict, segmentation_id: int) -> dict:
    return {"port_id": port["id"], "segmentation_type": "vlan", "segmentation_id": segmentation_id}


class Trunks:
    """Creates networks, ports and trunks through the API; deletes all of it afterwards, newest first."""

    def __init__(self, client):
        self.client, self.made = client, []

    def network(self, **attrs) -> dict:
        reply = self.client.post(f"{N}/networks", json={"network": {"name": unique("trunknet"), **attrs}})
        assert reply.status_code == 201, reply.text
        network = reply.json()["network"]
        self.made.append(f"{N}/networks/{network['id']}")
        return network

    def port(self, network: dict | None = None, **attrs) -> dict:
        network = network or self.network()
        reply = self.client.post(f"{N}/ports", json={"port": {"network_id": network["id"], **attrs}})
        assert reply.status_code == 201, reply.text
        port = reply.json()["port"]
        self.made.append(f"{N}/ports/{port['id']}")
        return port

    def create(self, parent: dict, sub_ports=None, **attrs):
        body = {"port_id": parent["id"], **attrs}
        if sub_ports is not None:
            body["sub_ports"] = sub_ports
        reply = self.client.post(f"{N}/trunks", json={"trunk": body})
        if reply.status_code == 201:
            self.made.append(f"{N}/trunks/{reply.json()['trunk']['id']}")
        return reply

    def trunk(self, parent: dict | None = None, sub_ports=None, **attrs) -> dict:
        reply = self.create(parent or self.port(), sub_ports, **attrs)
        assert reply.status_code == 201, reply.text
        return reply.json()["trunk"]

    def action(self, trunk: dict, action: str, sub_ports):
        return self.client.put(f"{N}/trunks/{trunk['id']}/{action}", json={"sub_ports": sub_ports})

    def cleanup(self) -> None:
        for path in reversed(self.made):
            if "/trunks/" in path:
                self.client.put(path, json={"trunk": {"admin_state_up": True}})
            status = self.client.delete(path).status_code
            assert status in (204, 404), f"DELETE {path}: {status}"


@pytest.fixture
def tk(admin):
    helper = Trunks(admin)
    yield helper
    helper.cleanup()


def test_extensions_are_listed(admin):
    aliases = {e["alias"] for e in admin.get(f"{N}/extensions").json()["extensions"]}
    assert {"trunk", "trunk-details"} <= aliases
    assert admin.get(f"{N}/extensions/trunk-details").json()["extension"]["alias"] == "trunk-details"


def test_trunk_lifecycle(admin, tk):
    parent, sub1, sub2 = tk.port(), tk.port(), tk.port()
    trunk = tk.trunk(parent, [vlan(sub1, 100)], name="t1", description="d")
    assert trunk["status"] == "DOWN" and trunk["admin_state_up"] is True and trunk["port_id"] == parent["id"]
    assert trunk["sub_ports"] == [vlan(sub1, 100)]
    assert trunk["tenant_id"] == trunk["project_id"] and trunk["tags"] == [] and trunk["revision_number"] == 0
    assert {"created_at", "updated_at"} <= set(trunk)
    assert admin.get(f"{N}/trunks/{trunk['id']}").json()["trunk"] == trunk
    listed = admin.get(f"{N}/trunks", params={"port_id": parent["id"]}).json()["trunks"]
    assert [t["id"] for t in listed] == [trunk["id"]]
    assert admin.get(f"{N}/trunks", params={"name": "t1", "fields": "name"}).json()["trunks"][0] == {"name": "t1"}

    added = tk.action(trunk, "add_subports", [vlan(sub2, 200)])
    assert added.status_code == 200, added.text
    assert added.json()["sub_ports"] == [vlan(sub1, 100), vlan(sub2, 200)]
    assert added.json()["revision_number"] > trunk["revision_number"]
    got = admin.get(f"{N}/trunks/{trunk['id']}/get_subports").json()
    assert got == {"sub_ports": [vlan(sub1, 100), vlan(sub2, 200)]}
    details = admin.get(f"{N}/ports/{parent['id']}").json()["port"]["trunk_details"]
    assert details == {"trunk_id": trunk["id"],
                       "sub_ports": [dict(vlan(sub1, 100), mac_address=sub1["mac_address"]),
                                     dict(vlan(sub2, 200), mac_address=sub2["mac_address"])]}
    assert "trunk_details" not in admin.get(f"{N}/ports/{sub1['id']}").json()["port"]

    removed = tk.action(trunk, "remove_subports", [{"port_id": sub1["id"]}])
    assert removed.status_code == 200 and removed.json()["sub_ports"] == [vlan(sub2, 200)]
    updated = admin.put(f"{N}/trunks/{trunk['id']}", json={"trunk": {"name": "t2", "description": ""}})
    assert updated.status_code == 200
    assert (updated.json()["trunk"]["name"], updated.json()["trunk"]["description"]) == ("t2", "")
    error(admin.put(f"{N}/trunks/{trunk['id']}", json={"trunk": {"port_id": sub1["id"]}}), 400, "HTTPBadRequest")
    error(admin.put(f"{N}/trunks/{trunk['id']}", json={"trunk": {"sub_ports": []}}), 400, "HTTPBadRequest")

    assert admin.delete(f"{N}/trunks/{trunk['id']}").status_code == 204  # with a subport: allowed
    error(admin.get(f"{N}/trunks/{trunk['id']}"), 404, "TrunkNotFound")
    assert "trunk_details" not in admin.get(f"{N}/ports/{parent['id']}").json()["port"]
    assert admin.delete(f"{N}/ports/{sub2['id']}").status_code == 204  # no longer a subport


def test_inherit_takes_the_vlan_network_segmentation(admin, tk):
    vlan_net = tk.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1"})
    seg = vlan_net["provider:segmentation_id"]
    parent = tk.port(tk.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1"}))
    sub = tk.port(vlan_net)
    trunk = tk.trunk(parent, [{"port_id": sub["id"], "segmentation_type": "inherit"}])
    assert trunk["sub_ports"] == [vlan(sub, seg)]
    vxlan_sub = tk.port(tk.network(**{"provider:network_type": "vxlan"}))
    message = error(tk.action(trunk, "add_subports", [{"port_id": vxlan_sub["id"], "segmentation_type": "inherit",
                                                       "segmentation_id": -1}]), 400, "InvalidInput")
    assert "vxlan" in message


def test_subport_on_the_parent_network_is_allowed(tk):
    network = tk.network()
    trunk = tk.trunk(tk.port(network), [vlan(sub := tk.port(network), 7)])
    assert trunk["sub_ports"] == [vlan(sub, 7)]


def test_rules_and_error_types(admin, tk):
    parent, sub, other = tk.port(), tk.port(), tk.port()
    trunk = tk.trunk(parent, [vlan(sub, 10)])
    error(tk.create(parent), 409, "ParentPortInUse")                      # parent of one trunk only
    error(tk.create(sub), 409, "TrunkPortInUse")                          # a subport cannot be a parent
    error(tk.action(trunk, "add_subports", [vlan(parent, 11)]), 409, "ParentPortInUse")
    error(tk.action(trunk, "add_subports", [vlan(other, 10)]), 409, "DuplicateSubPort")
    second = tk.trunk(tk.port())
    error(tk.action(second, "add_subports", [vlan(sub, 12)]), 409, "TrunkPortInUse")  # subport of one trunk
    error(tk.action(second, "add_subports", [vlan(parent, 12)]), 409, "ParentPortInUse")
    error(admin.delete(f"{N}/ports/{parent['id']}"), 409, "PortInUseAsTrunkParent")
    error(admin.delete(f"{N}/ports/{sub['id']}"), 409, "PortInUseAsSubPort")

    missing = uuid.uuid4().hex
    error(tk.create({"id": missing}), 404, "PortNotFound")
    error(tk.create(tk.port(), [vlan({"id": missing}, 2)]), 404, "PortNotFound")
    error(admin.put(f"{N}/trunks/{missing}/add_subports", json={"sub_ports": []}), 404, "TrunkNotFound")
    error(admin.get(f"{N}/trunks/{missing}/get_subports"), 404, "TrunkNotFound")
    error(admin.delete(f"{N}/trunks/{missing}"), 404, "TrunkNotFound")
    error(tk.action(trunk, "remove_subports", [{"port_id": other["id"]}]), 404, "SubPortNotFound")

    fresh = tk.port()
    for bad in ([vlan(fresh, 0)], [vlan(fresh, 4095)], [vlan(fresh, "x")],
                [{"port_id": fresh["id"], "segmentation_type": "vlan"}],
                [{"port_id": fresh["id"], "segmentation_id": 3}],
                [{"segmentation_type": "vlan", "segmentation_id": 3}],
                [{"port_id": fresh["id"], "segmentation_type": "gre", "segmentation_id": 3}],
                vlan(fresh, 3)):
        error(tk.action(trunk, "add_subports", bad), 400, "InvalidInput")
    error(tk.action(trunk, "remove_subports", {"port_id": sub["id"]}), 400, "InvalidInput")
    # duplicates inside one request are a 400 (validated before the parent port is even looked up)
    error(tk.create({"id": missing}, [vlan(fresh, 5), vlan(other, 5)]), 400, "InvalidInput")
    error(admin.post(f"{N}/trunks", json={"trunk": {"name": "no-parent"}}), 400, "HTTPBadRequest")
    error(admin.post(f"{N}/trunks", json={"trunk": {"port_id": fresh["id"], "status": "ACTIVE"}}),
          400, "HTTPBadRequest")
    assert tk.action(trunk, "get_subports", []).status_code in (404, 405)  # get_subports is a GET


def test_disabled_and_bound_trunks(admin, tk):
    parent, sub = tk.port(), tk.port()
    trunk = tk.trunk(parent, [vlan(sub, 3)], admin_state_up=False)
    assert trunk["admin_state_up"] is False
    error(tk.action(trunk, "add_subports", [vlan(tk.port(), 4)]), 409, "TrunkDisabled")
    error(tk.action(trunk, "remove_subports", [{"port_id": sub["id"]}]), 409, "TrunkDisabled")
    error(admin.delete(f"{N}/trunks/{trunk['id']}"), 409, "TrunkDisabled")
    assert admin.put(f"{N}/trunks/{trunk['id']}", json={"trunk": {"admin_state_up": True}}).status_code == 200
    admin.put(f"{N}/ports/{parent['id']}", json={"port": {"device_id": "vm-1", "device_owner": "compute:nova"}})
    error(admin.delete(f"{N}/trunks/{trunk['id']}"), 409, "TrunkInUse")
    admin.put(f"{N}/ports/{parent['id']}", json={"port": {"device_id": "", "device_owner": ""}})
    assert admin.delete(f"{N}/trunks/{trunk['id']}").status_code == 204


def test_subport_mtu_cannot_exceed_the_trunk(tk):
    small = tk.network(**{"provider:network_type": "vxlan"})
    large = tk.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1"})
    assert small["mtu"] < large["mtu"]
    error(tk.create(tk.port(small), [vlan(tk.port(large), 2)]), 409, "SubPortMtuGreaterThanTrunkPortMtu")
    trunk = tk.trunk(tk.port(large), [vlan(tk.port(small), 2)])
    assert len(trunk["sub_ports"]) == 1


def test_bulk_create_filters_and_pages(admin, tk):
    parents = [tk.port() for _ in range(3)]
    reply = admin.post(f"{N}/trunks", json={"trunks": [{"port_id": p["id"], "name": f"bulk-{i}", "tags": ["k"]}
                                                        for i, p in enumerate(parents)]})
    assert reply.status_code == 201, reply.text
    made = reply.json()["trunks"]
    tk.made.extend(f"{N}/trunks/{t['id']}" for t in made)
    assert [t["name"] for t in made] == ["bulk-0", "bulk-1", "bulk-2"] and made[0]["tags"] == ["k"]
    ids = {t["id"] for t in made}
    page = admin.get(f"{N}/trunks", params={"tags": "k", "sort_key": "name", "sort_dir": "desc", "limit": 2}).json()
    assert [t["name"] for t in page["trunks"]] == ["bulk-2", "bulk-1"]
    assert [link["rel"] for link in page["trunks_links"]] == ["next"]
    assert {t["id"] for t in admin.get(f"{N}/trunks", params={"admin_state_up": "true", "tags": "k"})
            .json()["trunks"]} == ids
    # all or nothing: the second parent is already taken
    again = admin.post(f"{N}/trunks", json={"trunks": [{"port_id": tk.port()["id"]}, {"port_id": parents[0]["id"]}]})
    error(again, 409, "ParentPortInUse")
    assert len(admin.get(f"{N}/trunks", params={"tags": "k"}).json()["trunks"]) == 3


def test_openstack_cli(cloud, tk):
    parent, sub1, sub2 = tk.port(), tk.port(), tk.port()
    name = unique("clitrunk")
    create, add, show1, remove, show2, delete = cloud.openstack_batch(
        ["network", "trunk", "create", "--parent-port", parent["id"], "--subport",
         f"port={sub1['id']},segmentation-type=vlan,segmentation-id=101", name, "-f", "json"],
        ["network", "trunk", "set", "--subport", f"port={sub2['id']},segmentation-type=vlan,segmentation-id=102",
         name],
        ["network", "trunk", "show", name, "-f", "json"],
        ["network", "trunk", "unset", "--subport", sub1["id"], name],
        ["network", "subport", "list", "--trunk", name, "-f", "json"],
        ["network", "trunk", "delete", name])
    assert create.err == "" and create.data["name"] == name, create.err
    tk.made.append(f"{N}/trunks/{create.data['id']}")
    assert add.err == "" and show1.err == "" and remove.err == "" and delete.err == "", \
        (add.err, show1.err, remove.err, delete.err)
    subports = show1.data["sub_ports"]
    assert sorted((s["port_id"], s["segmentation_id"]) for s in subports) == sorted(
        [(sub1["id"], 101), (sub2["id"], 102)])
    assert [(s["Port"], s["Segmentation ID"]) for s in show2.data] == [(sub2["id"], 102)]
    assert cloud.openstack("network", "trunk", "show", name, check=False).returncode != 0


def test_kuryr_nested_vlan_flow(admin, tk):
    """What a Kuryr nested-VLAN controller does for containers in an instance."""
    network = tk.network()
    subnet = admin.post(f"{N}/subnets", json={"subnet": {"network_id": network["id"], "ip_version": 4,
                                                          "cidr": "10.77.0.0/24"}}).json()["subnet"]
    vm_port = tk.port(network, device_id="instance-1", device_owner="compute:nova")
    vm_ip = vm_port["fixed_ips"][0]["ip_address"]
    trunk = tk.trunk(vm_port)

    # 1. find the instance's port by its fixed IP and read trunk_details.trunk_id
    found = admin.get(f"{N}/ports", params={"fixed_ips": f"ip_address={vm_ip}"}).json()["ports"]
    assert [p["id"] for p in found] == [vm_port["id"]]
    trunk_id = found[0]["trunk_details"]["trunk_id"]
    assert trunk_id == trunk["id"]
    # 2. bulk-create the container ports
    reply = admin.post(f"{N}/ports", json={"ports": [{"network_id": network["id"], "name": f"pod-{i}",
                                                       "device_owner": "trunk:subport"} for i in range(2)]})
    assert reply.status_code == 201, reply.text
    pods = reply.json()["ports"]
    tk.made.extend(f"{N}/ports/{p['id']}" for p in pods)
    assert all(p["fixed_ips"][0]["subnet_id"] == subnet["id"] for p in pods)
    # 3. add them with VLAN ids not in use on the trunk
    used = {s["segmentation_id"] for s in found[0]["trunk_details"]["sub_ports"]}
    free = [v for v in range(1, 4095) if v not in used][:2]
    added = admin.put(f"{N}/trunks/{trunk_id}/add_subports",
                      json={"sub_ports": [vlan(p, v) for p, v in zip(pods, free)]})
    assert added.status_code == 200, added.text
    details = admin.get(f"{N}/ports/{vm_port['id']}").json()["port"]["trunk_details"]
    assert {(s["port_id"], s["segmentation_id"], s["mac_address"]) for s in details["sub_ports"]} == \
        {(p["id"], v, p["mac_address"]) for p, v in zip(pods, free)}
    # 4. containers go away: remove the subports, delete their ports
    removed = admin.put(f"{N}/trunks/{trunk_id}/remove_subports",
                        json={"sub_ports": [{"port_id": p["id"]} for p in pods]})
    assert removed.status_code == 200 and removed.json()["sub_ports"] == []
    for pod in pods:
        assert admin.delete(f"{N}/ports/{pod['id']}").status_code == 204
    assert admin.get(f"{N}/ports/{vm_port['id']}").json()["port"]["trunk_details"]["sub_ports"] == []
    # the instance still holds its parent port: the trunk is in use until it lets go
    error(admin.delete(f"{N}/trunks/{trunk_id}"), 409, "TrunkInUse")
    admin.put(f"{N}/ports/{vm_port['id']}", json={"port": {"device_id": "", "device_owner": ""}})
