"""Flavors (defaults, admin create/delete, extra specs, private access) and key pairs (generated,
imported, 2.2 ``type``), through the CLI and raw HTTP."""

from __future__ import annotations

import base64
import hashlib

from tests.compute.conftest import unique

SSH_KEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0l"
           "RE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcp"
           "SxsIbECHw== Generated-by-Nova")

_DIGEST = hashlib.md5(base64.b64decode(SSH_KEY.split()[1])).hexdigest()
FINGERPRINT = ":".join(_DIGEST[i:i + 2] for i in range(0, 32, 2))  # OpenSSH's legacy MD5 form, as Nova's


def test_default_flavors(sim):
    listed = sim.openstack("flavor", "list", "-f", "json")
    names = {f["Name"]: f for f in listed}
    for fid, name in [("1", "m1.tiny"), ("2", "m1.small"), ("3", "m1.medium"), ("4", "m1.large"),
                      ("5", "m1.xlarge"), ("6", "c1.nano")]:
        assert names[name]["ID"] == fid
    assert names["m1.tiny"]["RAM"] == 512 and names["c1.nano"]["RAM"] == 64


def test_flavor_admin_lifecycle_extra_specs_and_access(sim, nova_admin, tenant):
    name = unique("flv")
    created = nova_admin.post("/flavors", json={"flavor": {"name": name, "ram": 96, "vcpus": 1, "disk": 0,
                                                           "os-flavor-access:is_public": False}})
    assert created.status_code == 200, created.text
    flavor = created.json()["flavor"]
    fid = flavor["id"]
    assert flavor["os-flavor-access:is_public"] is False and flavor["swap"] == ""
    # members cannot manage flavors, nor see a private one they were not given
    assert tenant.member.post("/flavors", json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0}}) \
        .status_code == 403
    assert tenant.member.get(f"/flavors/{fid}").status_code == 404
    resp = nova_admin.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": tenant.project_id}})
    assert {"flavor_id": fid, "tenant_id": tenant.project_id} in resp.json()["flavor_access"]
    assert tenant.member.get(f"/flavors/{fid}").status_code == 200
    assert fid in {f["id"] for f in tenant.member.get("/flavors").json()["flavors"]}
    # extra specs
    assert nova_admin.post(f"/flavors/{fid}/os-extra_specs", json={"extra_specs": {"hw:cpu_policy": "shared"}}) \
        .json() == {"extra_specs": {"hw:cpu_policy": "shared"}}
    assert tenant.member.get(f"/flavors/{fid}/os-extra_specs/hw:cpu_policy").json() == {"hw:cpu_policy": "shared"}
    assert nova_admin.put(f"/flavors/{fid}/os-extra_specs/hw:cpu_policy", json={"other": "x"}).status_code == 400
    assert nova_admin.delete(f"/flavors/{fid}/os-extra_specs/hw:cpu_policy").status_code == 200
    assert nova_admin.get(f"/flavors/{fid}/os-extra_specs/hw:cpu_policy").status_code == 404
    # duplicates, bad input
    dup = nova_admin.post("/flavors", json={"flavor": {"name": name, "ram": 1, "vcpus": 1, "disk": 0}})
    assert dup.status_code == 409 and "conflictingRequest" in dup.json()
    for bad in ({"name": "z", "ram": 0, "vcpus": 1, "disk": 0}, {"name": "z", "ram": 1, "vcpus": -1, "disk": 0},
                {"name": "", "ram": 1, "vcpus": 1, "disk": 0}, {"name": "z", "ram": 1, "vcpus": 1}):
        assert nova_admin.post("/flavors", json={"flavor": bad}).status_code == 400, bad
    assert nova_admin.delete(f"/flavors/{fid}").status_code == 202
    assert nova_admin.get(f"/flavors/{fid}").status_code == 404
    assert nova_admin.delete(f"/flavors/{fid}").status_code == 404


def test_keypairs_cli_generate_and_delete(sim, nova_admin, tmp_path):
    name = unique("key")
    private = tmp_path / "id"
    created = sim.openstack("keypair", "create", "--private-key", str(private), "-f", "json", name)
    assert created["name"] == name and created["fingerprint"].count(":") == 15
    assert "PRIVATE KEY" in private.read_text()
    shown = nova_admin.get(f"/os-keypairs/{name}").json()["keypair"]
    # the CLI makes the key itself (ed25519) and imports its public half
    assert shown["fingerprint"] == created["fingerprint"] and shown["public_key"].startswith("ssh-ed25519 ")
    sim.openstack("keypair", "delete", name)
    assert nova_admin.get(f"/os-keypairs/{name}").status_code == 404


def test_keypairs_api_and_microversion_2_2(tenant):
    v21, v22 = tenant.member, tenant.client(version="2.2")
    name = unique("kp")
    resp = v21.post("/os-keypairs", json={"keypair": {"name": name, "public_key": SSH_KEY}})
    assert resp.status_code == 200 and "type" not in resp.json()["keypair"]
    assert "private_key" not in resp.json()["keypair"]
    assert resp.json()["keypair"]["fingerprint"] == FINGERPRINT
    resp = v22.post("/os-keypairs", json={"keypair": {"name": name + "x", "type": "x509"}})
    assert resp.status_code == 201 and resp.json()["keypair"]["type"] == "x509"
    assert "BEGIN CERTIFICATE" in resp.json()["keypair"]["public_key"]
    shown = v22.get(f"/os-keypairs/{name}").json()["keypair"]
    assert shown["type"] == "ssh" and shown["user_id"] == tenant.users["member"][2] and shown["deleted"] is False
    assert v21.post("/os-keypairs", json={"keypair": {"name": name, "public_key": SSH_KEY}}).status_code == 409
    assert v21.post("/os-keypairs", json={"keypair": {"name": "bad name!"}}).status_code == 400
    assert v21.post("/os-keypairs", json={"keypair": {"name": "k", "public_key": "not a key"}}).status_code == 400
    assert v21.post("/os-keypairs", json={"keypair": {"name": "k", "type": "ssh"}}).status_code == 400  # 2.2+
    # key pairs are the user's own: the reader of the same project does not see them
    assert tenant.reader.get(f"/os-keypairs/{name}").status_code == 404
    assert v21.delete(f"/os-keypairs/{name}").status_code == 202
    assert v22.delete(f"/os-keypairs/{name}x").status_code == 204
    assert v21.get(f"/os-keypairs/{name}").status_code == 404
    v22.close()
