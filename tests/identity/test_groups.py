"""Groups and their members, through the stock CLI and raw HTTP."""

from __future__ import annotations

import pytest

from tests.identity.conftest import unique

V3 = "/identity/v3"


@pytest.fixture
def groups(admin):
    """Makes groups as the admin (raw HTTP) and deletes whatever is left of them afterwards."""
    made = []

    def make(name: str | None = None, **attrs) -> dict:
        resp = admin.post(f"{V3}/groups", json={"group": {"name": name or unique("group"), **attrs}})
        assert resp.status_code == 201, resp.text
        made.append(resp.json()["group"]["id"])
        return resp.json()["group"]

    yield make
    for group_id in made:
        admin.delete(f"{V3}/groups/{group_id}")


def member_token(keystone) -> str:
    user, project = keystone.member()
    return keystone.token_id(user, scope={"project": {"id": project.id}})


def assert_error(resp, status: int, message: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == status
    if message is not None:
        assert error["message"] == message


def test_group_lifecycle_through_the_cli(cloud, keystone, admin):
    domain = keystone.domain()
    name = unique("group")
    made = cloud.openstack("group", "create", name, "--domain", domain.id, "--description", "first", "-f", "json")
    try:
        assert made["name"] == name and made["description"] == "first" and made["domain_id"] == domain.id
        cloud.openstack("group", "set", made["id"], "--name", name + "-b", "--description", "second")
        shown = cloud.openstack("group", "show", name + "-b", "--domain", domain.id, "-f", "json")
        assert (shown["id"], shown["description"], shown["domain_id"]) == (made["id"], "second", domain.id)
        listed = cloud.openstack("group", "list", "--domain", domain.id, "--long", "-f", "json")
        assert listed == [{"ID": made["id"], "Name": name + "-b", "Domain ID": domain.id, "Description": "second"}]
        cloud.openstack("group", "delete", made["id"])
        assert_error(admin.get(f"{V3}/groups/{made['id']}"), 404, f"Could not find group: {made['id']}.")
    finally:
        admin.delete(f"{V3}/groups/{made['id']}")


def test_membership_through_the_cli(cloud, keystone, groups, admin):
    group = groups()
    user = keystone.user()
    cloud.openstack("group", "add", "user", group["id"], user.id)
    check = cloud.openstack("group", "contains", "user", group["id"], user.id)
    assert check.stdout.strip() == f"{user.id} in group {group['id']}"
    assert cloud.openstack("group", "list", "--user", user.id, "-f", "json") == [
        {"ID": group["id"], "Name": group["name"]}]
    assert cloud.openstack("user", "list", "--group", group["id"], "-f", "json") == [
        {"ID": user.id, "Name": user.name}]
    cloud.openstack("group", "remove", "user", group["id"], user.id)
    check = cloud.openstack("group", "contains", "user", group["id"], user.id)
    assert check.stdout == "" and check.stderr.strip().endswith(f"{user.id} not in group {group['id']}")
    assert admin.get(f"{V3}/groups/{group['id']}/users").json()["users"] == []


def test_membership_over_http(keystone, groups, admin):
    group, other = groups(), groups()
    first, second = keystone.user(), keystone.user()
    for user in (first, second):
        assert admin.put(f"{V3}/groups/{group['id']}/users/{user.id}").status_code == 204
    assert admin.put(f"{V3}/groups/{group['id']}/users/{first.id}").status_code == 204  # again: no change
    assert admin.put(f"{V3}/groups/{other['id']}/users/{first.id}").status_code == 204
    assert admin.head(f"{V3}/groups/{group['id']}/users/{first.id}").status_code == 204
    assert admin.get(f"{V3}/groups/{group['id']}/users/{first.id}").status_code == 204

    members = admin.get(f"{V3}/groups/{group['id']}/users").json()["users"]
    assert sorted(u["id"] for u in members) == sorted([first.id, second.id])
    assert {"name", "domain_id", "enabled", "links", "password_expires_at"} <= set(members[0])
    named = admin.get(f"{V3}/groups/{group['id']}/users", params={"name": second.name}).json()["users"]
    assert [u["id"] for u in named] == [second.id]

    body = admin.get(f"{V3}/users/{first.id}/groups").json()
    assert sorted(g["id"] for g in body["groups"]) == sorted([group["id"], other["id"]])
    assert all(g["membership_expires_at"] is None for g in body["groups"])
    only = admin.get(f"{V3}/users/{first.id}/groups", params={"name": other["name"]}).json()["groups"]
    assert [g["id"] for g in only] == [other["id"]]

    assert admin.delete(f"{V3}/groups/{group['id']}/users/{first.id}").status_code == 204
    assert admin.head(f"{V3}/groups/{group['id']}/users/{first.id}").status_code == 404
    assert_error(admin.get(f"{V3}/groups/{group['id']}/users/{first.id}"), 404,
                 f"User '{first.id}' not found in group '{group['id']}'.")
    assert_error(admin.delete(f"{V3}/groups/{group['id']}/users/{first.id}"), 404,
                 f"User '{first.id}' not found in group '{group['id']}'.")
    assert [u["id"] for u in admin.get(f"{V3}/groups/{group['id']}/users").json()["users"]] == [second.id]


def test_group_filters_and_defaults(keystone, groups, admin):
    domain = keystone.domain()
    mine = groups(domain_id=domain.id, description="in a domain")
    other = groups()
    assert other["domain_id"] == "default" and other["description"] == ""
    in_domain = admin.get(f"{V3}/groups", params={"domain_id": domain.id}).json()["groups"]
    assert [g["id"] for g in in_domain] == [mine["id"]]
    assert in_domain[0]["links"]["self"].endswith(f"/identity/v3/groups/{mine['id']}")
    by_name = admin.get(f"{V3}/groups", params={"name": other["name"]}).json()["groups"]
    assert [g["id"] for g in by_name] == [other["id"]]
    prefix = admin.get(f"{V3}/groups", params={"name__startswith": other["name"][:-3]}).json()["groups"]
    assert other["id"] in [g["id"] for g in prefix]
    # the same name is free in another domain, extra attributes are kept
    twin = groups(name=other["name"], domain_id=domain.id, colour="blue")
    assert twin["colour"] == "blue"
    assert admin.get(f"{V3}/groups/{twin['id']}").json()["group"]["colour"] == "blue"


def test_group_errors(keystone, groups, admin):
    group = groups()
    missing = "0" * 32
    for method in ("GET", "PATCH", "DELETE"):
        body = {"group": {"name": "x"}} if method == "PATCH" else None
        assert_error(admin.request(method, f"{V3}/groups/{missing}", json=body), 404,
                     f"Could not find group: {missing}.")
    user = keystone.user()
    assert_error(admin.put(f"{V3}/groups/{group['id']}/users/{missing}"), 404, f"Could not find user: {missing}.")
    assert_error(admin.put(f"{V3}/groups/{missing}/users/{user.id}"), 404, f"Could not find group: {missing}.")
    assert_error(admin.get(f"{V3}/users/{missing}/groups"), 404, f"Could not find user: {missing}.")
    assert_error(admin.get(f"{V3}/groups/{missing}/users"), 404, f"Could not find group: {missing}.")

    duplicate = admin.post(f"{V3}/groups", json={"group": {"name": group["name"]}})
    assert_error(duplicate, 409, f"Conflict occurred attempting to store group - Duplicate entry found with name"
                                 f" {group['name']} at domain ID default.")
    renamed = admin.patch(f"{V3}/groups/{groups()['id']}", json={"group": {"name": group["name"]}})
    assert_error(renamed, 409)
    assert_error(admin.post(f"{V3}/groups", json={"group": {"description": "no name"}}), 400,
                 "Invalid input for field 'name': 'name' is a required property")
    assert_error(admin.post(f"{V3}/groups", json={"group": {"name": "x" * 65}}), 400)
    assert_error(admin.post(f"{V3}/groups", json={"group": {"name": "g", "domain_id": missing}}), 404,
                 f"Could not find domain: {missing}.")
    domain = keystone.domain()
    assert_error(admin.patch(f"{V3}/groups/{group['id']}", json={"group": {"domain_id": domain.id}}), 400,
                 "Cannot change the domain of a group.")


def test_a_member_may_not_manage_groups(cloud, keystone, groups):
    group = groups()
    with cloud.http(member_token(keystone)) as client:
        denied = client.post(f"{V3}/groups", json={"group": {"name": unique("group")}})
        assert_error(denied, 403, "You are not authorized to perform the requested action: identity:create_group.")
        assert_error(client.get(f"{V3}/groups"), 403)
        assert_error(client.put(f"{V3}/groups/{group['id']}/users/{keystone.user().id}"), 403)
        assert_error(client.delete(f"{V3}/groups/{group['id']}"), 403)


def test_a_domain_reader_sees_the_groups_of_its_domain(keystone, groups):
    domain = keystone.domain()
    inside, outside = groups(domain_id=domain.id), groups()
    reader = keystone.user(domain_id=domain.id)
    keystone.grant(reader, "reader", domain=domain)
    with keystone.cloud.http(keystone.token_id(reader, scope={"domain": {"id": domain.id}})) as client:
        assert [g["id"] for g in client.get(f"{V3}/groups").json()["groups"]] == [inside["id"]]
        assert client.get(f"{V3}/groups/{inside['id']}").status_code == 200
        assert_error(client.get(f"{V3}/groups/{outside['id']}"), 403)
        assert_error(client.post(f"{V3}/groups", json={"group": {"name": "x", "domain_id": domain.id}}), 403)


def test_leaving_a_group_revokes_the_members_tokens(cloud, keystone, groups, admin):
    user, project = keystone.member()  # keeps a role of its own on the project
    group = groups()
    admin.put(f"{V3}/groups/{group['id']}/users/{user.id}").raise_for_status()
    admin.put(f"{V3}/projects/{project.id}/groups/{group['id']}/roles/{keystone.role('manager').id}") \
        .raise_for_status()
    token = keystone.token_id(user, scope={"project": {"id": project.id}})
    check = admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": token})
    assert "manager" in [r["name"] for r in check.json()["token"]["roles"]]
    cloud.openstack("group", "remove", "user", group["id"], user.id)
    assert_error(admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": token}), 404)
    fresh = keystone.token_id(user, scope={"project": {"id": project.id}})
    roles = admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": fresh}).json()["token"]["roles"]
    assert sorted(r["name"] for r in roles) == ["member", "reader"]


def test_deleting_a_group_removes_its_assignments_and_memberships(cloud, keystone, groups, admin):
    user, project = keystone.member()
    group = groups()
    admin.put(f"{V3}/groups/{group['id']}/users/{user.id}").raise_for_status()
    role = keystone.role("manager")
    admin.put(f"{V3}/projects/{project.id}/groups/{group['id']}/roles/{role.id}").raise_for_status()
    admin.put(f"{V3}/domains/default/groups/{group['id']}/roles/{role.id}").raise_for_status()
    listed = admin.get(f"{V3}/role_assignments", params={"group.id": group["id"]}).json()["role_assignments"]
    assert len(listed) == 2
    token = keystone.token_id(user, scope={"project": {"id": project.id}})

    assert admin.delete(f"{V3}/groups/{group['id']}").status_code == 204
    assert admin.get(f"{V3}/role_assignments", params={"group.id": group["id"]}).json()["role_assignments"] == []
    assert admin.get(f"{V3}/users/{user.id}/groups").json()["groups"] == []
    assert_error(admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": token}), 404)
    # a group of that name can be made again
    assert groups(name=group["name"])["id"] != group["id"]
