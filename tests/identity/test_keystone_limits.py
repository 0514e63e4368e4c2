"""Keystone behaviours at the edges: the project tree's depth limit, and who may read grants."""

from __future__ import annotations

from identity.conftest import unique
from identity.test_policy import denied

V3 = "/identity/v3"


def test_projects_nest_five_deep_and_no_deeper(admin, keystone):
    """Keystone's max_project_tree_depth (5): a sixth level is 403 ForbiddenNotSecurity, naming the parent."""
    chain = [keystone.project()]
    for _ in range(4):
        chain.append(keystone.project(parent_id=chain[-1].id))
    assert admin.get(f"{V3}/projects/{chain[-1].id}").json()["project"]["parent_id"] == chain[-2].id
    resp = admin.post(f"{V3}/projects", json={"project": {"name": unique("deep"), "parent_id": chain[-1].id}})
    assert resp.status_code == 403, resp.text
    assert resp.json() == {"error": {"code": 403, "title": "Forbidden",
                                     "message": f"Max hierarchy depth reached for {chain[-1].id} branch."}}
    # a sibling at the fifth level is still fine, and the refused project was not made
    sibling = admin.post(f"{V3}/projects", json={"project": {"name": unique("p5"), "parent_id": chain[-2].id}})
    assert sibling.status_code == 201, sibling.text
    assert admin.delete(f"{V3}/projects/{sibling.json()['project']['id']}").status_code == 204
    assert admin.get(f"{V3}/projects", params={"parent_id": chain[-1].id}).json()["projects"] == []


def test_a_domain_reader_reads_the_grants_of_its_domain(cloud, keystone):
    """As Keystone's defaults: list and check grants on a project (or the domain) when both the target and the
    actor are in the reader's domain; not elsewhere, and never grant or revoke."""
    domain = keystone.domain()
    project = keystone.project(domain_id=domain.id)
    member = keystone.user(domain_id=domain.id)
    keystone.grant(member, "member", project=project)
    keystone.grant(member, "reader", domain=domain)
    outsider = keystone.user()  # in the default domain, granted on a project of ours
    keystone.grant(outsider, "member", project=project)
    dreader = keystone.user(domain_id=domain.id)
    keystone.grant(dreader, "reader", domain=domain)
    other = keystone.project()  # in the default domain
    keystone.grant(member, "member", project=other)
    member_role = keystone.role("member").id

    with cloud.http(keystone.token_id(dreader, scope={"domain": {"id": domain.id}})) as client:
        listed = client.get(f"{V3}/projects/{project.id}/users/{member.id}/roles")
        assert listed.status_code == 200, listed.text
        assert [r["id"] for r in listed.json()["roles"]] == [member_role]
        assert client.head(f"{V3}/projects/{project.id}/users/{member.id}/roles/{member_role}").status_code == 204
        assert client.get(f"{V3}/projects/{project.id}/users/{member.id}/roles/{member_role}").status_code == 204
        assert client.get(f"{V3}/domains/{domain.id}/users/{member.id}/roles").status_code == 200
        # the actor outside the reader's domain, or the project in another domain: Keystone says no
        denied(client.get(f"{V3}/projects/{project.id}/users/{outsider.id}/roles"), "identity:list_grants")
        denied(client.get(f"{V3}/projects/{other.id}/users/{member.id}/roles"), "identity:list_grants")
        denied(client.get(f"{V3}/projects/{other.id}/users/{member.id}/roles/{member_role}"),
               "identity:check_grant")
        denied(client.put(f"{V3}/projects/{project.id}/users/{dreader.id}/roles/{member_role}"),
               "identity:create_grant")
        denied(client.delete(f"{V3}/projects/{project.id}/users/{member.id}/roles/{member_role}"),
               "identity:revoke_grant")
    # a project-scoped member of that project does not read its grants
    with cloud.http(keystone.token_id(member, scope={"project": {"id": project.id}})) as client:
        denied(client.get(f"{V3}/projects/{project.id}/users/{member.id}/roles"), "identity:list_grants")
