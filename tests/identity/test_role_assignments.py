"""``GET /v3/role_assignments``: direct and effective listings, every filter, names, who may list."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.identity.conftest import unique

V3 = "/identity/v3"


@pytest.fixture
def world(cloud, keystone, admin):
    """A domain D with a project P and its child C; alice and bob in group G; roles granted every way.

    alice: ``direct`` on P and on D, ``dom_inh`` on D inherited to its projects, ``proj_inh`` on P inherited
    to its subprojects; G (alice, bob): ``grouped`` on P; bob: ``prior`` (which implies ``implied``) on C.
    """
    domain = keystone.domain()
    parent = keystone.project(domain_id=domain.id)
    child = keystone.project(domain_id=domain.id, parent_id=parent.id)
    alice, bob = keystone.user(domain_id=domain.id), keystone.user(domain_id=domain.id)
    roles = SimpleNamespace(**{key: keystone.role(unique(f"ra-{key}")) for key in
                               ("direct", "dom_inh", "proj_inh", "grouped", "prior", "implied")})
    resp = admin.post(f"{V3}/groups", json={"group": {"name": unique("group"), "domain_id": domain.id}})
    group = resp.json()["group"]
    for path in (f"/roles/{roles.prior.id}/implies/{roles.implied.id}",
                 f"/groups/{group['id']}/users/{alice.id}", f"/groups/{group['id']}/users/{bob.id}",
                 f"/projects/{parent.id}/users/{alice.id}/roles/{roles.direct.id}",
                 f"/domains/{domain.id}/users/{alice.id}/roles/{roles.direct.id}",
                 f"/OS-INHERIT/domains/{domain.id}/users/{alice.id}/roles/{roles.dom_inh.id}/inherited_to_projects",
                 f"/OS-INHERIT/projects/{parent.id}/users/{alice.id}/roles/{roles.proj_inh.id}/inherited_to_projects",
                 f"/projects/{parent.id}/groups/{group['id']}/roles/{roles.grouped.id}",
                 f"/projects/{child.id}/users/{bob.id}/roles/{roles.prior.id}"):
        assert admin.put(V3 + path).status_code in (201, 204), path
    yield SimpleNamespace(domain=domain, parent=parent, child=child, alice=alice, bob=bob, group=group,
                          roles=roles, root=cloud.identity_url)
    admin.delete(f"{V3}/groups/{group['id']}")


QUERY = {"user_id": "user.id", "group_id": "group.id", "role_id": "role.id", "scope_system": "scope.system",
         "scope_project_id": "scope.project.id", "scope_domain_id": "scope.domain.id",
         "inherited_to": "scope.OS-INHERIT:inherited_to"}


def listing(client, **params) -> list[dict]:
    resp = client.get(f"{V3}/role_assignments", params={QUERY.get(k, k): v for k, v in params.items()})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["links"]["next"] is None and "/v3/role_assignments" in body["links"]["self"]
    return body["role_assignments"]


def summary(entries: list[dict]) -> list[tuple]:
    """(role, actor, scope, inherited, assignment link below /v3, membership link?) of each entry, sorted."""
    rows = []
    for e in entries:
        actor = ("user", e["user"]["id"]) if "user" in e else ("group", e["group"]["id"])
        kind = next(k for k in ("project", "domain", "system") if k in e["scope"])
        where = (kind, e["scope"][kind]["id"] if kind != "system" else "all")
        link = e["links"]["assignment"].split("/v3", 1)[1]
        rows.append((e["role"]["id"], actor, where, e["scope"].get("OS-INHERIT:inherited_to") == "projects", link,
                     "membership" in e["links"]))
    return sorted(rows)


def error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == status
    return resp.json()["error"]["message"]


# -- through the CLI ---------------------------------------------------------------------------------

def test_grants_and_listings_through_the_cli(cloud, keystone, world):
    w, r = world, world.roles
    user = keystone.user(domain_id=w.domain.id)
    extra = keystone.role(unique("ra-cli"))
    cloud.openstack("role", "add", "--user", user.id, "--domain", w.domain.id, "--inherited", extra.id)
    cloud.openstack("role", "add", "--group", w.group["id"], "--project", w.parent.id, extra.id)
    rows = cloud.openstack("role", "assignment", "list", "--user", user.id, "--names", "-f", "json")
    assert rows == [{"Role": extra.name, "User": f"{user.name}@{w.domain.name}", "Group": "", "Project": "",
                     "Domain": w.domain.name, "System": "", "Inherited": True}]
    rows = cloud.openstack("role", "assignment", "list", "--group", w.group["id"], "-f", "json")
    assert sorted((row["Role"], row["Project"], row["Inherited"]) for row in rows) == sorted(
        [(r.grouped.id, w.parent.id, False), (extra.id, w.parent.id, False)])
    assert all(row["Group"] == w.group["id"] and row["User"] == "" for row in rows)

    rows = cloud.openstack("role", "assignment", "list", "--user", w.alice.id, "--project", w.parent.id,
                           "--effective", "--names", "-f", "json")
    project, alice = f"{w.parent.name}@{w.domain.name}", f"{w.alice.name}@{w.domain.name}"
    assert sorted((row["Role"], row["User"], row["Group"], row["Project"], row["Inherited"]) for row in rows) == \
        sorted([(r.direct.name, alice, "", project, False), (r.grouped.name, alice, "", project, False),
                (extra.name, alice, "", project, False), (r.dom_inh.name, alice, "", project, True)])


# -- direct listings ---------------------------------------------------------------------------------

def test_direct_assignments_and_their_links(admin, world):
    w, r = world, world.roles
    u = f"/users/{w.alice.id}"
    assert summary(listing(admin, user_id=w.alice.id)) == sorted([
        (r.direct.id, ("user", w.alice.id), ("project", w.parent.id), False,
         f"/projects/{w.parent.id}{u}/roles/{r.direct.id}", False),
        (r.direct.id, ("user", w.alice.id), ("domain", w.domain.id), False,
         f"/domains/{w.domain.id}{u}/roles/{r.direct.id}", False),
        (r.dom_inh.id, ("user", w.alice.id), ("domain", w.domain.id), True,
         f"/OS-INHERIT/domains/{w.domain.id}{u}/roles/{r.dom_inh.id}/inherited_to_projects", False),
        (r.proj_inh.id, ("user", w.alice.id), ("project", w.parent.id), True,
         f"/OS-INHERIT/projects/{w.parent.id}{u}/roles/{r.proj_inh.id}/inherited_to_projects", False),
    ])
    assert listing(admin, group_id=w.group["id"]) == [{
        "links": {"assignment": f"{w.root}/projects/{w.parent.id}/groups/{w.group['id']}/roles/{r.grouped.id}"},
        "scope": {"project": {"id": w.parent.id}}, "group": {"id": w.group["id"]}, "role": {"id": r.grouped.id}}]


def test_direct_filters(admin, world, cloud):
    w, r = world, world.roles
    inherited = listing(admin, user_id=w.alice.id, inherited_to="projects")
    assert sorted(e["role"]["id"] for e in inherited) == sorted([r.dom_inh.id, r.proj_inh.id])
    not_inherited = listing(admin, user_id=w.alice.id, inherited_to="nothing")
    assert [e["role"]["id"] for e in not_inherited] == [r.direct.id, r.direct.id]
    on_domain = listing(admin, scope_domain_id=w.domain.id)
    assert sorted(e["role"]["id"] for e in on_domain) == sorted([r.direct.id, r.dom_inh.id])
    on_child = listing(admin, scope_project_id=w.child.id)
    assert [(e["user"]["id"], e["role"]["id"]) for e in on_child] == [(w.bob.id, r.prior.id)]
    of_role = listing(admin, role_id=r.grouped.id)
    assert [e["group"]["id"] for e in of_role] == [w.group["id"]]
    assert listing(admin, user_id=w.bob.id, scope_project_id=w.parent.id) == []  # only through the group
    # the system: the bootstrap admin's grant, shown as Keystone shows it
    admin_id = admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": cloud.token()}).json()["token"]["user"]["id"]
    system = listing(admin, user_id=admin_id, scope_system="all")
    admin_role = next(e["role"]["id"] for e in system)
    assert system == [{"links": {"assignment": f"{w.root}/system/users/{admin_id}/roles/{admin_role}"},
                       "scope": {"system": {"all": True}}, "user": {"id": admin_id}, "role": {"id": admin_role}}]
    assert system[0] in listing(admin, user_id=admin_id)  # no scope filter: the system is listed too
    assert all("system" not in e["scope"] for e in listing(admin, user_id=admin_id, scope_project_id=w.parent.id))


def test_include_subtree(admin, world):
    w, r = world, world.roles
    direct = listing(admin, scope_project_id=w.parent.id, include_subtree="true")
    assert sorted((e["scope"]["project"]["id"], e["role"]["id"]) for e in direct) == sorted(
        [(w.parent.id, r.direct.id), (w.parent.id, r.grouped.id), (w.parent.id, r.proj_inh.id),
         (w.child.id, r.prior.id)])
    resp = admin.get(f"{V3}/role_assignments?scope.project.id={w.parent.id}&include_subtree&effective")
    effective = summary(resp.json()["role_assignments"])
    assert [(row[0], row[1][1], row[2][1]) for row in effective] == sorted([
        (r.direct.id, w.alice.id, w.parent.id), (r.grouped.id, w.alice.id, w.parent.id),
        (r.grouped.id, w.bob.id, w.parent.id), (r.dom_inh.id, w.alice.id, w.parent.id),
        (r.dom_inh.id, w.alice.id, w.child.id), (r.proj_inh.id, w.alice.id, w.child.id),
        (r.prior.id, w.bob.id, w.child.id), (r.implied.id, w.bob.id, w.child.id)])
    # without the subtree: the project alone
    assert len(listing(admin, scope_project_id=w.parent.id, include_subtree="0", effective="")) == 4


# -- effective listings ------------------------------------------------------------------------------

def test_effective_expands_groups_inheritance_and_implied_roles(admin, world):
    w, r = world, world.roles
    a, b = w.alice.id, w.bob.id
    on_parent = listing(admin, user_id=a, scope_project_id=w.parent.id, effective="true")
    assert summary(on_parent) == sorted([
        (r.direct.id, ("user", a), ("project", w.parent.id), False,
         f"/projects/{w.parent.id}/users/{a}/roles/{r.direct.id}", False),
        (r.grouped.id, ("user", a), ("project", w.parent.id), False,
         f"/projects/{w.parent.id}/groups/{w.group['id']}/roles/{r.grouped.id}", True),
        (r.dom_inh.id, ("user", a), ("project", w.parent.id), True,
         f"/OS-INHERIT/domains/{w.domain.id}/users/{a}/roles/{r.dom_inh.id}/inherited_to_projects", False),
    ])
    grouped = next(e for e in on_parent if e["role"]["id"] == r.grouped.id)
    assert grouped["links"]["membership"] == f"{w.root}/groups/{w.group['id']}/users/{a}"
    assert "group" not in grouped

    on_child = summary(listing(admin, user_id=a, scope_project_id=w.child.id, effective="1"))
    assert [(row[0], row[3], row[4]) for row in on_child] == sorted([
        (r.dom_inh.id, True, f"/OS-INHERIT/domains/{w.domain.id}/users/{a}/roles/{r.dom_inh.id}"
                             "/inherited_to_projects"),
        (r.proj_inh.id, True, f"/OS-INHERIT/projects/{w.parent.id}/users/{a}/roles/{r.proj_inh.id}"
                              "/inherited_to_projects")])

    everywhere = summary(listing(admin, user_id=a, effective=""))
    assert sorted((row[0], row[2]) for row in everywhere) == sorted([
        (r.direct.id, ("project", w.parent.id)), (r.direct.id, ("domain", w.domain.id)),
        (r.grouped.id, ("project", w.parent.id)), (r.dom_inh.id, ("project", w.parent.id)),
        (r.dom_inh.id, ("project", w.child.id)), (r.proj_inh.id, ("project", w.child.id))])

    implied = listing(admin, user_id=b, scope_project_id=w.child.id, effective="")
    assert sorted(e["role"]["id"] for e in implied) == sorted([r.prior.id, r.implied.id])
    via_prior = next(e for e in implied if e["role"]["id"] == r.implied.id)
    # Keystone points an implied role's entry at the prior role's grant
    assert via_prior["links"] == {
        "assignment": f"{w.root}/projects/{w.child.id}/users/{b}/roles/{r.prior.id}",
        "prior_role": f"{w.root}/prior_role/{r.implied.id}/implies/{r.prior.id}"}

    # everyone's effective roles on the project: the group's grant for each member
    all_users = listing(admin, scope_project_id=w.parent.id, effective="")
    assert sorted((e["user"]["id"], e["role"]["id"]) for e in all_users) == sorted(
        [(a, r.direct.id), (a, r.grouped.id), (b, r.grouped.id), (a, r.dom_inh.id)])
    assert [e["user"]["id"] for e in listing(admin, role_id=r.grouped.id, effective="")] == sorted([a, b])
    on_domain = listing(admin, user_id=a, scope_domain_id=w.domain.id, effective="")
    assert [e["role"]["id"] for e in on_domain] == [r.direct.id]  # domains inherit nothing
    only_inherited = listing(admin, user_id=a, effective="", inherited_to="projects")
    assert sorted(e["role"]["id"] for e in only_inherited) == sorted([r.dom_inh.id, r.dom_inh.id, r.proj_inh.id])


def test_effective_system_roles_include_the_implied_ones(admin, cloud):
    token = admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": cloud.token()}).json()["token"]
    found = listing(admin, user_id=token["user"]["id"], scope_system="all", effective="", include_names="")
    assert {e["role"]["name"] for e in found} == {"admin", "manager", "member", "reader"}
    assert all(e["scope"] == {"system": {"all": True}} for e in found)


def test_include_names(admin, world):
    w, r = world, world.roles
    named = listing(admin, user_id=w.alice.id, scope_project_id=w.parent.id, role_id=r.direct.id,
                    include_names="true")
    domain = {"id": w.domain.id, "name": w.domain.name}
    assert named == [{
        "links": {"assignment": f"{w.root}/projects/{w.parent.id}/users/{w.alice.id}/roles/{r.direct.id}"},
        "scope": {"project": {"id": w.parent.id, "name": w.parent.name, "domain": domain}},
        "user": {"id": w.alice.id, "name": w.alice.name, "domain": domain},
        "role": {"id": r.direct.id, "name": r.direct.name}}]
    on_domain = listing(admin, group_id=w.group["id"], include_names="")
    assert on_domain[0]["group"] == {"id": w.group["id"], "name": w.group["name"], "domain": domain}
    by_domain = listing(admin, user_id=w.alice.id, scope_domain_id=w.domain.id, role_id=r.direct.id,
                        include_names="")
    assert by_domain[0]["scope"] == {"domain": domain}
    assert "name" not in listing(admin, user_id=w.alice.id, include_names="0")[0]["user"]


# -- refusals and who may list ----------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({"user.id": "u", "group.id": "g"}, "Specify a user or group, not both"),
    ({"scope.domain.id": "d", "scope.project.id": "p"}, "Specify a domain or project, not both"),
    ({"scope.system": "all", "scope.domain.id": "d"}, "Specify system or domain, not both"),
    ({"scope.system": "all", "scope.project.id": "p"}, "Specify system or project, not both"),
    ({"group.id": "g", "effective": ""}, "Combining effective and group filter will always result in an empty list."),
    ({"scope.domain.id": "d", "effective": "", "scope.OS-INHERIT:inherited_to": "projects"},
     "Combining effective, domain and inherited filters will always result in an empty list."),
    ({"include_subtree": "true"}, "scope.project.id must be specified if include_subtree is also specified"),
])
def test_contradictory_filters(admin, params, message):
    assert error(admin.get(f"{V3}/role_assignments", params=params), 400) == message


def test_unknown_project_with_subtree(admin):
    resp = admin.get(f"{V3}/role_assignments", params={"scope.project.id": "0" * 32, "include_subtree": "1"})
    assert error(resp, 404) == f"Could not find project: {'0' * 32}."
    assert listing(admin, scope_project_id="0" * 32) == []


def test_a_member_may_not_list_and_a_domain_reader_sees_its_domain(cloud, keystone, world):
    user, project = keystone.member()
    with cloud.http(keystone.token_id(user, scope={"project": {"id": project.id}})) as client:
        assert error(client.get(f"{V3}/role_assignments", params={"user.id": user.id}), 403) == \
            "You are not authorized to perform the requested action: identity:list_role_assignments."
    reader = keystone.user(domain_id=world.domain.id)
    keystone.grant(reader, "reader", domain=world.domain)
    with cloud.http(keystone.token_id(reader, scope={"domain": {"id": world.domain.id}})) as client:
        seen = listing(client)
        in_domain = {world.domain.id, world.parent.id, world.child.id}
        assert seen and all(next(iter(e["scope"].values()))["id"] in in_domain for e in seen)
        assert {e["role"]["id"] for e in seen} >= {world.roles.direct.id, world.roles.prior.id}
        assert listing(client, scope_project_id=project.id) == []  # another domain's project
