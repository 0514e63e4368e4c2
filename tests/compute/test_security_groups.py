"""Nova's os-security-groups proxy (≤ 2.35) over the network service, and a server's groups."""

from __future__ import annotations

from tests.compute.conftest import boot, unique, wait_status


def test_security_group_proxy_and_server_groups(tenant, image_ids):
    member = tenant.member
    listed = member.get("/os-security-groups").json()["security_groups"]
    default = next(g for g in listed if g["name"] == "default")
    assert default["tenant_id"] == tenant.project_id
    assert all(r["parent_group_id"] == default["id"] for r in default["rules"])  # ingress rules only
    resp = member.post("/os-security-groups", json={"security_group": {"name": " spaced name ",
                                                                        "description": "d"}})
    assert resp.status_code == 200, resp.text
    group = resp.json()["security_group"]
    assert group["name"] == " spaced name " and group["rules"] == [] and group["description"] == "d"
    gid = group["id"]
    for bad in ({"name": "", "description": "d"}, {"name": "   ", "description": "d"},
                {"name": "x" * 256, "description": "d"}, {"name": "n"}):
        assert member.post("/os-security-groups", json={"security_group": bad}).status_code == 400, bad
    updated = member.put(f"/os-security-groups/{gid}", json={"security_group": {"name": "renamed",
                                                                                  "description": "e"}})
    assert updated.status_code == 200 and updated.json()["security_group"]["name"] == "renamed"
    assert member.get(f"/os-security-groups/{gid}").json()["security_group"]["description"] == "e"
    missing = "9a8b7c6d111122223333444455556666"
    assert member.get(f"/os-security-groups/{missing}").status_code == 404
    assert member.put(f"/os-security-groups/{missing}", json={"security_group": {"name": "a", "description": ""}}) \
        .status_code == 404
    assert member.delete(f"/os-security-groups/{missing}").status_code == 404
    assert member.delete("/os-security-groups/").status_code == 404
    resp = member.delete(f"/os-security-groups/{default['id']}")
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == \
        "Removing default security group not allowed."

    server = boot(member, image_ids[0], name=unique("sg"))
    sid = server["id"]
    assert member.post(f"/servers/{sid}/action", json={"addSecurityGroup": {"name": "renamed"}}).status_code == 202
    names = {g["name"] for g in member.get(f"/servers/{sid}/os-security-groups").json()["security_groups"]}
    assert names == {"default", "renamed"}
    assert {g["name"] for g in member.get(f"/servers/{sid}").json()["server"]["security_groups"]} == names
    assert member.post(f"/servers/{sid}/action", json={"addSecurityGroup": {"name": "no-such"}}).status_code == 404
    assert member.post(f"/servers/{sid}/action", json={"removeSecurityGroup": {"name": "renamed"}}) \
        .status_code == 202
    assert member.post(f"/servers/{sid}/action", json={"removeSecurityGroup": {"name": "renamed"}}) \
        .status_code == 404
    assert member.delete(f"/servers/{sid}").status_code == 204
    wait_status(member, sid, "DELETED")
    assert member.delete(f"/os-security-groups/{gid}").status_code == 202
    assert member.get(f"/os-security-groups/{gid}").status_code == 404
