"""Who may see and do what: project isolation, readers, scopes, domain readers, the admin.

Denials are 403 with Keystone's body naming the policy rule; the admin role (in any scope) is the cloud admin.
"""

from __future__ import annotations

import openstack
import pytest

from identity.conftest import unique

V3 = "/identity/v3"


def denied(resp, action: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    assert resp.json() == {"error": {"code": 403, "title": "Forbidden", "message":
                                     f"You are not authorized to perform the requested action: {action}."}}


@pytest.fixture
def world(cloud, keystone):
    """Two projects, a member of each, a reader of the first; tokens scoped to their project."""
    a, b = keystone.project(), keystone.project()
    alice, _ = keystone.member(project=a)
    bob, _ = keystone.member(project=b)
    reader, _ = keystone.member("reader", project=a)

    def as_(user, project):
        return cloud.http(keystone.token_id(user, scope={"project": {"id": project.id}}))

    return dict(a=a, b=b, alice=alice, bob=bob, reader=reader, as_=as_)


def test_a_member_sees_its_project_and_itself_only(keystone, world):
    a, b, alice, bob = world["a"], world["b"], world["alice"], world["bob"]
    with world["as_"](alice, a) as client:
        assert client.get(f"{V3}/projects/{a.id}").json()["project"]["name"] == a.name
        denied(client.get(f"{V3}/projects/{b.id}"), "identity:get_project")
        denied(client.get(f"{V3}/projects"), "identity:list_projects")
        assert client.get(f"{V3}/users/{alice.id}").json()["user"]["name"] == alice.name
        denied(client.get(f"{V3}/users/{bob.id}"), "identity:get_user")
        denied(client.get(f"{V3}/users"), "identity:list_users")
        assert [p["id"] for p in client.get(f"{V3}/users/{alice.id}/projects").json()["projects"]] == [a.id]
        denied(client.get(f"{V3}/users/{bob.id}/projects"), "identity:list_user_projects")
        # assignments: neither others' nor even its own grants
        member = keystone.role("member").id
        denied(client.get(f"{V3}/projects/{b.id}/users/{bob.id}/roles"), "identity:list_grants")
        assert client.head(f"{V3}/projects/{b.id}/users/{bob.id}/roles/{member}").status_code == 403
        denied(client.get(f"{V3}/projects/{a.id}/users/{alice.id}/roles"), "identity:list_grants")
        denied(client.get(f"{V3}/projects/{b.id}/tags"), "identity:project_tags")


def test_a_member_through_the_sdk(cloud, keystone, world):
    conn = keystone.connect(world["alice"], project=world["a"])
    assert conn.identity.get_project(world["a"].id).id == world["a"].id
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.identity.get_project(world["b"].id)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(conn.identity.users())
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.identity.create_user(name="nope", domain_id="default")


def test_a_member_cannot_create_users_projects_or_grants(cloud, keystone, world):
    a, alice, bob = world["a"], world["alice"], world["bob"]
    member = keystone.role("member").id
    with world["as_"](alice, a) as client:
        denied(client.post(f"{V3}/users", json={"user": {"name": "intruder"}}), "identity:create_user")
        denied(client.post(f"{V3}/projects", json={"project": {"name": "intruder"}}), "identity:create_project")
        denied(client.post(f"{V3}/roles", json={"role": {"name": "intruder"}}), "identity:create_role")
        denied(client.put(f"{V3}/projects/{a.id}/users/{bob.id}/roles/{member}"), "identity:create_grant")
        denied(client.patch(f"{V3}/projects/{a.id}", json={"project": {"description": "mine"}}),
               "identity:update_project")
        denied(client.patch(f"{V3}/users/{bob.id}", json={"user": {"enabled": False}}), "identity:update_user")
        denied(client.delete(f"{V3}/users/{bob.id}"), "identity:delete_user")
    # the CLI says so too
    create_user, create_project = keystone.cli(["user", "create", "intruder"], ["project", "create", "intruder"],
                                               user=alice, project=a)
    assert "ForbiddenException: 403" in create_user.err and "identity:create_user" in create_user.err
    assert "ForbiddenException: 403" in create_project.err and "identity:create_project" in create_project.err
    assert keystone.conn.identity.find_user("intruder") is None


def test_a_reader_cannot_write(cloud, keystone, world):
    a, reader = world["a"], world["reader"]
    with world["as_"](reader, a) as client:
        assert client.get(f"{V3}/projects/{a.id}").status_code == 200
        assert client.get(f"{V3}/projects/{a.id}/tags").status_code == 200
        denied(client.patch(f"{V3}/projects/{a.id}", json={"project": {"enabled": False}}),
               "identity:update_project")
        denied(client.put(f"{V3}/projects/{a.id}/tags/mine"), "identity:update_project_tags")
        denied(client.delete(f"{V3}/projects/{a.id}"), "identity:delete_project")
        denied(client.post(f"{V3}/users", json={"user": {"name": "intruder"}}), "identity:create_user")
    assert keystone.conn.identity.get_project(a.id).is_enabled


def test_a_token_scoped_to_one_project_cannot_act_on_another(cloud, keystone, world):
    a, b = world["a"], world["b"]
    carol, _ = keystone.member(project=a)
    keystone.grant(carol, "member", project=b)
    with world["as_"](carol, a) as client:
        denied(client.get(f"{V3}/projects/{b.id}"), "identity:get_project")
        denied(client.get(f"{V3}/projects/{b.id}/tags"), "identity:project_tags")
        assert client.get(f"{V3}/projects/{a.id}").status_code == 200
    with world["as_"](carol, b) as client:
        assert client.get(f"{V3}/projects/{b.id}").status_code == 200
        denied(client.get(f"{V3}/projects/{a.id}"), "identity:get_project")
    # and an unscoped token reaches no project at all
    with cloud.http(keystone.token_id(carol, scope="unscoped")) as client:
        denied(client.get(f"{V3}/projects/{a.id}"), "identity:get_project")


def test_a_domain_reader_sees_its_domain(cloud, keystone):
    domain = keystone.domain()
    ours = [keystone.user(domain_id=domain.id) for _ in range(2)]
    project = keystone.project(domain_id=domain.id)
    dreader = keystone.user(domain_id=domain.id)
    keystone.grant(dreader, "reader", domain=domain)
    admin_id = keystone.conn.identity.find_user("admin").id
    token = keystone.token_id(dreader, scope={"domain": {"id": domain.id}})
    with cloud.http(token) as client:
        listed = client.get(f"{V3}/users").json()["users"]
        assert {u["id"] for u in listed} == {u.id for u in ours} | {dreader.id}
        assert {u["id"] for u in client.get(f"{V3}/users", params={"domain_id": domain.id}).json()["users"]} \
            == {u["id"] for u in listed}
        denied(client.get(f"{V3}/users", params={"domain_id": "default"}), "identity:list_users")
        assert client.get(f"{V3}/users/{ours[0].id}").status_code == 200
        denied(client.get(f"{V3}/users/{admin_id}"), "identity:get_user")
        assert [p["id"] for p in client.get(f"{V3}/projects").json()["projects"]] == [project.id]
        assert client.get(f"{V3}/domains/{domain.id}").json()["domain"]["name"] == domain.name
        denied(client.get(f"{V3}/domains/default"), "identity:get_domain")
        denied(client.get(f"{V3}/domains"), "identity:list_domains")
        denied(client.post(f"{V3}/users", json={"user": {"name": "intruder", "domain_id": domain.id}}),
               "identity:create_user")
    # with openstacksdk, domain-scoped
    conn = keystone.connect(dreader, domain=domain)
    assert {u.id for u in conn.identity.users()} == {u["id"] for u in listed}


def test_a_system_reader_reads_everything_and_writes_nothing(cloud, keystone, world):
    auditor = keystone.user()
    keystone.conn.identity.assign_system_role_to_user(auditor, keystone.role("reader"), "all")
    with cloud.http(keystone.token_id(auditor, scope={"system": {"all": True}})) as client:
        names = {u["name"] for u in client.get(f"{V3}/users").json()["users"]}
        assert {"admin", world["alice"].name, world["bob"].name} <= names
        assert client.get(f"{V3}/projects/{world['b'].id}").status_code == 200
        assert client.get(f"{V3}/domains").status_code == 200
        denied(client.post(f"{V3}/projects", json={"project": {"name": "intruder"}}), "identity:create_project")


def test_the_admin_can(cloud, keystone, world, admin):
    a, b, bob = world["a"], world["b"], world["bob"]
    assert admin.get(f"{V3}/projects/{b.id}").status_code == 200
    assert {a.id, b.id} <= {p["id"] for p in admin.get(f"{V3}/projects").json()["projects"]}
    assert bob.id in {u["id"] for u in admin.get(f"{V3}/users").json()["users"]}
    member = keystone.role("member").id
    assert admin.get(f"{V3}/projects/{b.id}/users/{bob.id}/roles").json()["roles"][0]["id"] == member
    assert admin.put(f"{V3}/projects/{a.id}/users/{bob.id}/roles/{member}").status_code == 204
    assert admin.patch(f"{V3}/projects/{a.id}", json={"project": {"description": "admin was here"}}).status_code \
        == 200
    made = admin.post(f"{V3}/users", json={"user": {"name": "made-by-admin-" + a.id[:8]}})
    assert made.status_code == 201
    assert admin.delete(f"{V3}/users/{made.json()['user']['id']}").status_code == 204
    # the admin role on a project is enough (Keystone's admin_required), as the sdk shows
    admin_sdk = keystone.conn
    assert admin_sdk.identity.get_project(b.id).name == b.name


def test_domain_specific_roles_never_reach_a_token(cloud, keystone, admin):
    """A domain-specific role only lends the global roles it implies, whatever its name (as in Keystone)."""
    user = keystone.user()
    project = keystone.project()
    made = []
    try:
        for name in ("admin", "project-lead"):
            resp = admin.post(f"{V3}/roles", json={"role": {"name": name, "domain_id": "default"}})
            assert resp.status_code == 201, resp.text
            made.append(resp.json()["role"]["id"])
        _, lead = made
        assert admin.put(f"{V3}/roles/{lead}/implies/{keystone.role('member').id}").status_code == 201
        for role_id in made:
            assert admin.put(f"{V3}/projects/{project.id}/users/{user.id}/roles/{role_id}").status_code == 204
        token = keystone.token(user, scope={"project": {"id": project.id}})
        assert token.status_code == 201, token.text
        assert sorted(r["name"] for r in token.json()["token"]["roles"]) == ["member", "reader"]
        with cloud.http(token.headers["X-Subject-Token"]) as client:  # a role named admin does not make an admin
            denied(client.post(f"{V3}/users", json={"user": {"name": "intruder"}}), "identity:create_user")
    finally:
        for role_id in made:
            admin.delete(f"{V3}/roles/{role_id}")


def test_no_role_may_imply_admin(cloud, keystone, admin):
    admin_role, prior = keystone.role("admin").id, keystone.role(unique("prior")).id
    resp = admin.put(f"{V3}/roles/{prior}/implies/{admin_role}")
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == f"{admin_role} cannot be an implied roles."
    assert admin.get(f"{V3}/roles/{prior}/implies/{admin_role}").status_code == 404
