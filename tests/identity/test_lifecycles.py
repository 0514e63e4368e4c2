"""Projects, users and roles from creation to deletion, through the stock ``openstack`` CLI.

Each test runs its CLI commands in one CLI process (``keystone.cli``), then checks the outcome as a
client would see it: tokens, openstacksdk, the grants API.
"""

from __future__ import annotations

import openstack
import pytest

from identity.conftest import unique


def test_project_lifecycle(cloud, keystone):
    parent, child, other = unique("parent"), unique("child"), unique("other")
    tag = unique("tag")
    (created, sub, _, tagged, children, refused_disable, _, _, _, changed, refused_child, refused_delete, _, _,
     gone) = keystone.cli(
        ["project", "create", parent, "--description", "the-parent", "--tag", tag, "--tag", "blue", "-f", "json"],
        ["project", "create", child, "--parent", parent, "-f", "json"],
        ["project", "create", other, "--tag", "blue", "-f", "json"],
        ["project", "list", "--tags", f"{tag},blue", "-f", "json"],
        ["project", "list", "--parent", parent, "-f", "json"],
        ["project", "set", parent, "--disable"],  # refused: its child is enabled
        ["project", "set", child, "--disable"],
        ["project", "set", parent, "--disable", "--tag", "green"],
        ["project", "set", parent, "--remove-tag", "blue"],
        ["project", "show", parent, "-f", "json"],
        ["project", "create", unique("grandchild"), "--parent", child],  # refused: a disabled branch
        ["project", "delete", parent],  # refused: it has a subproject
        ["project", "delete", child, other],
        ["project", "delete", parent],
        ["project", "show", parent],
    )
    project = created.data
    assert project["name"] == parent and project["description"] == "the-parent" and project["enabled"] is True
    assert sorted(project["tags"]) == sorted([tag, "blue"])
    assert project["parent_id"] == "default" and project["domain_id"] == "default"  # top level: the domain
    assert sub.data["parent_id"] == project["id"]
    assert [p["Name"] for p in tagged.data] == [parent]  # both tags: not the other project
    assert [p["Name"] for p in children.data] == [child]
    assert "ForbiddenException: 403" in refused_disable.err
    assert "subtree contains enabled projects" in refused_disable.err
    assert changed.data["enabled"] is False and sorted(changed.data["tags"]) == sorted([tag, "green"])
    assert "BadRequestException: 400" in refused_child.err and "containing a disabled project" in refused_child.err
    assert "1 of 1 projects failed to delete." in refused_delete.err
    assert gone.err and parent in gone.err


def test_project_hierarchy_enabling_and_tags_with_the_sdk(cloud, keystone, admin):
    conn = keystone.conn
    parent = keystone.project(tags=["a"])
    child = keystone.project(parent_id=parent.id)
    grandchild = keystone.project(parent_id=child.id)
    assert conn.identity.get_project(grandchild.id).parent_id == child.id

    # disabling goes bottom-up, enabling top-down (as in Keystone)
    with pytest.raises(openstack.exceptions.ForbiddenException, match="subtree contains enabled projects"):
        conn.identity.update_project(child, is_enabled=False)
    conn.identity.update_project(grandchild, is_enabled=False)
    conn.identity.update_project(child, is_enabled=False)
    conn.identity.update_project(parent, is_enabled=False, tags=["a", "b"])
    shown = conn.identity.get_project(parent.id)
    assert shown.is_enabled is False and sorted(shown.tags) == ["a", "b"]
    with pytest.raises(openstack.exceptions.ForbiddenException, match="since it has disabled parents"):
        conn.identity.update_project(child.id, is_enabled=True)
    with pytest.raises(openstack.exceptions.BadRequestException, match="containing a disabled project"):
        conn.identity.create_project(name=unique("p"), parent_id=grandchild.id, domain_id="default")
    conn.identity.update_project(parent.id, is_enabled=True)
    conn.identity.update_project(child.id, is_enabled=True)
    assert conn.identity.get_project(child.id).is_enabled and not conn.identity.get_project(grandchild.id).is_enabled

    # the tags API, one tag at a time
    base = f"/identity/v3/projects/{parent.id}/tags"
    assert admin.put(f"{base}/c").status_code == 201
    assert admin.get(f"{base}/c").status_code == 204
    assert admin.delete(f"{base}/a").status_code == 204
    assert admin.get(f"{base}/a").status_code == 404
    assert sorted(admin.get(base).json()["tags"]) == ["b", "c"]
    assert admin.put(base, json={"tags": ["x", "y"]}).json()["tags"] == ["x", "y"]
    assert admin.delete(base).status_code == 204 and admin.get(base).json()["tags"] == []

    # a parent with children cannot be deleted; bottom-up works
    with pytest.raises(openstack.exceptions.ForbiddenException, match="not a leaf in the hierarchy"):
        conn.identity.delete_project(child)
    for project in (grandchild, child, parent):
        conn.identity.delete_project(project)
        assert admin.get(f"/identity/v3/projects/{project.id}").status_code == 404


def test_user_lifecycle(cloud, keystone):
    first, second = keystone.project(), keystone.project()
    name = unique("user")
    created, _, shown, _, disabled, listed = keystone.cli_ok(
        ["user", "create", name, "--password", "first-password-1", "--project", first.id,
         "--description", "a-user", "--email", "user@example.org", "-f", "json"],
        ["user", "set", name, "--password", "second-password-2", "--project", second.id],
        ["user", "show", name, "-f", "json"],
        ["user", "set", name, "--disable"],
        ["user", "show", name, "-f", "json"],
        ["user", "list", "-f", "json"],
    )
    assert created["name"] == name and created["enabled"] is True and created["default_project_id"] == first.id
    assert created["email"] == "user@example.org" and created["description"] == "a-user"
    assert shown["default_project_id"] == second.id and shown["id"] == created["id"] and shown["enabled"]
    assert disabled["enabled"] is False
    assert name in [u["Name"] for u in listed]

    account = keystone.conn.identity.get_user(created["id"])
    assert keystone.token(account, password="second-password-2").status_code == 401  # disabled
    keystone.conn.identity.update_user(account, is_enabled=True)
    # the new password works, the old does not; the default project scopes the token once a role is given
    assert keystone.token(account, password="first-password-1").status_code == 401
    keystone.grant(account, "member", project=second)
    body = keystone.token(account, password="second-password-2").json()["token"]
    assert body["project"]["id"] == second.id

    keystone.conn.identity.delete_user(account)
    assert keystone.conn.identity.find_user(name) is None
    assert keystone.token(account, password="second-password-2").status_code == 401


def test_role_lifecycle(cloud, keystone):
    user, project = keystone.member()
    newcomer, other_project = keystone.user(), keystone.project()  # for the README's "role add ... member"
    assert keystone.token(newcomer, scope={"project": {"id": other_project.id}}).status_code == 401
    prior, implied = unique("prior"), unique("implied")
    created, _, inference, inferences, _, _, listed = keystone.cli_ok(
        ["role", "create", prior, "--description", "a-prior-role", "-f", "json"],
        ["role", "create", implied, "-f", "json"],
        ["implied", "role", "create", prior, "--implied-role", implied, "-f", "json"],
        ["implied", "role", "list", "-f", "json"],
        ["role", "add", "--user", user.name, "--project", project.name, prior],
        ["role", "add", "--user", newcomer.name, "--project", other_project.name, "member"],
        ["role", "list", "-f", "json"],
    )
    assert created["name"] == prior and created["description"] == "a-prior-role"
    assert inference["prior_role"] == created["id"]
    assert {"Prior Role Name": prior, "Implied Role Name": implied}.items() <= next(
        i for i in inferences if i["Prior Role Name"] == prior).items()
    assert {prior, implied, "member", "reader", "admin"} <= {r["Name"] for r in listed}

    # the token carries the granted role and the role it implies
    roles = {r["name"] for r in keystone.token(user, scope={"project": {"id": project.id}}).json()["token"]["roles"]}
    assert {prior, implied, "member", "reader"} <= roles
    conn = keystone.conn
    assert conn.identity.validate_user_has_project_role(project, user, conn.identity.find_role(prior))
    token = keystone.token(newcomer, scope={"project": {"id": other_project.id}})
    assert {r["name"] for r in token.json()["token"]["roles"]} == {"member", "reader"}

    _, _, _, _, gone = keystone.cli(
        ["role", "remove", "--user", user.name, "--project", project.name, prior],
        ["role", "remove", "--user", newcomer.name, "--project", other_project.name, "member"],
        ["implied", "role", "delete", prior, "--implied-role", implied],
        ["role", "delete", prior, implied],
        ["role", "show", prior],
    )
    assert gone.err and prior in gone.err
    roles = {r["name"] for r in keystone.token(user, scope={"project": {"id": project.id}}).json()["token"]["roles"]}
    assert roles == {"member", "reader"}
    assert keystone.token(newcomer, scope={"project": {"id": other_project.id}}).status_code == 401
    assert conn.identity.find_role(implied) is None
