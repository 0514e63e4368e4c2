"""A server's ports, created through Nova, count against the project's Neutron ``port`` quota (as in Neutron)."""

from __future__ import annotations

import time
import uuid

N = "/network/v2.0"
C = "/compute/v2.1"


def test_compute_ports_count_against_the_port_quota(cloud, admin):
    name = f"qp-{uuid.uuid4().hex[:8]}"
    project = admin.post("/identity/v3/projects", json={"project": {"name": name, "domain_id": "default"}}).json()[
        "project"]["id"]
    me = admin.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": admin.headers["X-Auth-Token"]}).json()[
        "token"]["user"]["id"]
    role = next(r["id"] for r in admin.get("/identity/v3/roles").json()["roles"] if r["name"] == "admin")
    assert admin.put(f"/identity/v3/projects/{project}/users/{me}/roles/{role}").status_code == 204
    client = cloud.http(cloud.token(project=name))
    servers = []
    try:
        net = client.post(f"{N}/networks", json={"network": {"name": "q"}}).json()["network"]
        subnet = client.post(f"{N}/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                            "cidr": "10.69.0.0/24", "enable_dhcp": False}})
        assert subnet.status_code == 201, subnet.text  # no DHCP: no DHCP port takes a unit of the quota
        assert admin.put(f"{N}/quotas/{project}", json={"quota": {"port": 2}}).status_code == 200
        image = next(i["id"] for i in client.get("/image/v2/images").json()["images"] if i["name"] == "busybox")
        flavor = min(client.get(f"{C}/flavors/detail").json()["flavors"], key=lambda f: f["ram"])["id"]

        def boot(count: int = 1):
            return client.post(f"{C}/servers", json={"server": {
                "name": "q", "imageRef": image, "flavorRef": flavor, "networks": [{"uuid": net["id"]}],
                "min_count": count, "max_count": count}})

        first = boot()
        assert first.status_code == 202, first.text
        servers.append(first.json()["server"]["id"])
        assert client.get(f"{N}/quotas/{project}/details").json()["quota"]["port"]["used"] == 1
        over = boot(2)  # two more ports do not fit in the one left: all or nothing
        assert over.status_code == 403, over.text
        assert over.json()["forbidden"]["message"] == "Maximum number of ports exceeded"
        assert client.post(f"{N}/ports", json={"port": {"network_id": net["id"]}}).status_code == 201
        assert boot().status_code == 403  # the last one taken by a port made through Neutron
        assert [s["id"] for s in client.get(f"{C}/servers").json()["servers"]] == servers
        assert len(client.get(f"{N}/ports", params={"device_owner": "compute:nova"}).json()["ports"]) == 1
        # Neutron says the same to a direct create
        direct = client.post(f"{N}/ports", json={"port": {"network_id": net["id"]}})
        assert direct.status_code == 409 and direct.json()["NeutronError"]["type"] == "OverQuota"
        # with the limit lifted, the server boots
        assert admin.put(f"{N}/quotas/{project}", json={"quota": {"port": -1}}).status_code == 200
        second = boot()
        assert second.status_code == 202, second.text
        servers.append(second.json()["server"]["id"])
    finally:
        for sid in servers:
            client.delete(f"{C}/servers/{sid}")
        deadline = time.monotonic() + 30
        while servers and time.monotonic() < deadline and client.get(f"{C}/servers").json()["servers"]:
            time.sleep(0.2)
        for port in client.get(f"{N}/ports", params={"project_id": project}).json()["ports"]:
            if not port["device_owner"].startswith("network:"):
                client.delete(f"{N}/ports/{port['id']}")
        if "net" in locals():
            client.delete(f"{N}/networks/{net['id']}")
        admin.delete(f"{N}/quotas/{project}")
        admin.delete(f"/identity/v3/projects/{project}")
        client.close()
