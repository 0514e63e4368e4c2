"""Tokens through the stock clients: issue in every scope, re-scope, validate, revoke, expire."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import openstack
import pytest

SUBJECT = "X-Subject-Token"


def access(conn):
    """What keystoneauth learnt about the connection's token."""
    return conn.session.auth.get_access(conn.session)


def validate(cloud, admin, token: str, query: str = "") -> httpx.Response:
    return admin.get("/identity/v3/auth/tokens" + query, headers={SUBJECT: token})


def assert_gone(cloud, admin, token: str) -> None:
    """The token no longer validates (404) nor authenticates (401)."""
    resp = validate(cloud, admin, token)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == 404
    with cloud.http(token) as client:
        used = client.get("/identity/v3/auth/projects")
    assert used.status_code == 401
    assert used.json()["error"] == {"code": 401, "title": "Unauthorized",
                                    "message": "The request you have made requires authentication."}


def post(cloud, path: str, body: dict) -> httpx.Response:
    with cloud.http() as client:
        return client.post("/identity/v3" + path, json=body)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


# -- issuing ---------------------------------------------------------------------------------------

def test_password_by_id_by_name_and_domain_id_and_by_name_and_domain_name(cloud, keystone):
    user, project = keystone.member()
    common = dict(auth_url=cloud.identity_url, password=user.password, project_id=project.id,
                  load_yaml_config=False, load_envvars=False)
    ways = [dict(user_id=user.id),
            dict(username=user.name, user_domain_id="default"),
            dict(username=user.name, user_domain_name="Default")]
    for way in ways:
        info = access(openstack.connect(**common, **way))
        assert (info.user_id, info.project_id, info.user_domain_id) == (user.id, project.id, "default")
        assert info.role_names == ["member", "reader"]  # member implies reader
        assert info._data["token"]["methods"] == ["password"]


def test_cli_as_a_member(cloud, keystone, admin):
    user, project = keystone.member()
    other = keystone.token_id(user, scope={"project": {"id": project.id}})
    token, catalog, shown, _ = keystone.cli_ok(
        ["token", "issue", "-f", "json"], ["catalog", "list", "-f", "json"],
        ["project", "show", project.id, "-f", "json"], ["token", "revoke", other],  # a user may revoke its own
        user=user, project=project)
    assert token["user_id"] == user.id and token["project_id"] == project.id
    assert validate(cloud, admin, token["id"]).status_code == 200
    assert [entry["Name"] for entry in catalog if entry["Type"] == "identity"] == ["keystone"]
    assert shown["name"] == project.name
    assert_gone(cloud, admin, other)


def test_domain_and_system_scopes(cloud, keystone):
    domain_user = keystone.user()
    keystone.grant(domain_user, "reader", domain=keystone.conn.identity.get_domain("default"))
    info = access(keystone.connect(domain_user, domain="default"))
    assert info.domain_id == "default" and info.project_id is None and info.role_names == ["reader"]

    admin = openstack.connect(auth_url=cloud.identity_url, username="admin", user_domain_id="default",
                              password=cloud.password(), system_scope="all", load_yaml_config=False,
                              load_envvars=False)
    info = access(admin)
    assert info.system == {"all": True} and info.project_id is None and "admin" in info.role_names

    # no role on the domain or the system: 401, in Keystone's body
    for scope in ({"domain": {"id": "default"}}, {"system": {"all": True}}):
        resp = keystone.token(keystone.user(), scope=scope)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == 401


def test_project_scope_by_name_and_domain_name(cloud, keystone):
    user, project = keystone.member()
    resp = keystone.token(user, scope={"project": {"name": project.name, "domain": {"name": "Default"}}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["token"]["project"] == {"id": project.id, "name": project.name,
                                               "domain": {"id": "default", "name": "Default"}}


def test_unscoped_and_default_project(cloud, keystone):
    user, project = keystone.member()  # default_project_id is that project
    implicit = keystone.token(user).json()["token"]
    assert implicit["project"]["id"] == project.id  # no scope asked: the default project

    body = keystone.token(user, scope="unscoped").json()["token"]
    assert "project" not in body and "roles" not in body and "catalog" not in body
    assert body["user"]["id"] == user.id and body["methods"] == ["password"]

    loner = keystone.user()  # no default project: unscoped
    assert "project" not in keystone.token(loner).json()["token"]


def test_wrong_password_unknown_user_and_unreachable_project(cloud, keystone):
    user, _ = keystone.member()
    other = keystone.project()
    for resp in (keystone.token(user, password="not-the-password"),
                 keystone.token(keystone.user(), scope={"project": {"id": other.id}}),
                 post(cloud, "/auth/tokens", {"auth": {"identity": {
                     "methods": ["password"], "password": {"user": {"id": "nobody", "password": "x"}}}}})):
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["title"] == "Unauthorized"
        assert SUBJECT not in resp.headers


def test_rescope_with_the_token_method(cloud, keystone):
    user, project = keystone.member()
    first = keystone.token(user, scope="unscoped")
    unscoped, first_body = first.headers[SUBJECT], first.json()["token"]
    resp = post(cloud, "/auth/tokens", {"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"project": {"id": project.id}}}})
    assert resp.status_code == 201, resp.text
    body = resp.json()["token"]
    assert body["project"]["id"] == project.id
    assert body["methods"] == ["token", "password"]
    assert body["audit_ids"][1] == first_body["audit_ids"][0]  # the audit chain
    assert body["expires_at"] == first_body["expires_at"]  # re-scoping does not extend the lifetime
    # with openstacksdk: a token-authenticated connection scoped to the project
    conn = openstack.connect(auth_type="v3token", auth_url=cloud.identity_url, token=unscoped,
                             project_id=project.id, load_yaml_config=False, load_envvars=False)
    assert conn.identity.get_project(project.id).name == project.name


# -- validating ------------------------------------------------------------------------------------

def test_validate_shows_the_token(cloud, keystone, admin):
    user, project = keystone.member()
    token = keystone.token_id(user, scope={"project": {"id": project.id}})
    resp = validate(cloud, admin, token)
    assert resp.status_code == 200
    assert resp.headers[SUBJECT] == token
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    body = resp.json()["token"]
    assert body["methods"] == ["password"]
    assert body["user"]["id"] == user.id and body["user"]["name"] == user.name
    assert body["user"]["domain"] == {"id": "default", "name": "Default"}
    assert body["project"]["id"] == project.id and body["project"]["domain"]["id"] == "default"
    assert sorted(r["name"] for r in body["roles"]) == ["member", "reader"]
    assert all(set(r) >= {"id", "name"} for r in body["roles"])
    identity = [s for s in body["catalog"] if s["type"] == "identity"]
    assert identity and {e["interface"] for e in identity[0]["endpoints"]} == {"public", "internal", "admin"}
    assert identity[0]["endpoints"][0]["url"].startswith(cloud.url)
    lifetime = parse_time(body["expires_at"]) - parse_time(body["issued_at"])
    assert lifetime.total_seconds() == pytest.approx(3600, abs=1)
    assert len(body["audit_ids"]) == 1 and len(body["audit_ids"][0]) == 22

    # a user may validate their own token; another non-admin user may not
    with cloud.http(token) as client:
        assert client.get("/identity/v3/auth/tokens", headers={SUBJECT: token}).status_code == 200
    stranger = keystone.token_id(keystone.member()[0])
    with cloud.http(stranger) as client:
        denied = client.get("/identity/v3/auth/tokens", headers={SUBJECT: token})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == 403


def test_nocatalog(cloud, keystone, admin):
    user, project = keystone.member()
    resp = post(cloud, "/auth/tokens?nocatalog", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user.id, "password": user.password}}},
        "scope": {"project": {"id": project.id}}}})
    assert resp.status_code == 201
    assert "catalog" not in resp.json()["token"] and resp.json()["token"]["roles"]
    token = resp.headers[SUBJECT]
    assert "catalog" not in validate(cloud, admin, token, "?nocatalog").json()["token"]
    assert validate(cloud, admin, token).json()["token"]["catalog"]


def test_head_checks_a_token(cloud, keystone, admin):
    token = keystone.token_id(keystone.member()[0])
    resp = admin.head("/identity/v3/auth/tokens", headers={SUBJECT: token})
    assert resp.status_code == 200 and resp.content == b""
    assert admin.head("/identity/v3/auth/tokens", headers={SUBJECT: token[:-4] + "AAAA"}).status_code == 404
    assert admin.head("/identity/v3/auth/tokens", headers={SUBJECT: "not-a-token"}).status_code == 404
    missing = admin.get("/identity/v3/auth/tokens")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 400


def test_revoke_then_404_and_401(cloud, keystone, admin):
    user, project = keystone.member()
    token = keystone.token_id(user, scope={"project": {"id": project.id}})
    other = keystone.token_id(user, scope={"project": {"id": project.id}})
    resp = admin.delete("/identity/v3/auth/tokens", headers={SUBJECT: token})
    assert resp.status_code == 204 and resp.content == b""
    assert_gone(cloud, admin, token)
    assert validate(cloud, admin, other).status_code == 200  # only that token
    # revoking twice: the token is not found any more
    assert admin.delete("/identity/v3/auth/tokens", headers={SUBJECT: token}).status_code == 404
    # another user may not revoke it
    with cloud.http(keystone.token_id(keystone.member()[0])) as stranger:
        resp = stranger.delete("/identity/v3/auth/tokens", headers={SUBJECT: other})
    assert resp.status_code == 403
    assert validate(cloud, admin, other).status_code == 200


# -- what revokes tokens ---------------------------------------------------------------------------

def test_disabling_a_user_revokes_its_tokens(cloud, keystone, admin):
    user, _ = keystone.member()
    token = keystone.token_id(user)
    keystone.conn.identity.update_user(user, is_enabled=False)
    assert_gone(cloud, admin, token)
    assert keystone.token(user).status_code == 401
    keystone.conn.identity.update_user(user, is_enabled=True)
    assert_gone(cloud, admin, token)  # re-enabling does not bring old tokens back
    assert validate(cloud, admin, keystone.token_id(user)).status_code == 200


def test_deleting_a_user_revokes_its_tokens(cloud, keystone, admin):
    user, _ = keystone.member()
    token = keystone.token_id(user)
    keystone.conn.identity.delete_user(user)
    assert_gone(cloud, admin, token)


def test_changing_a_password_revokes_tokens(cloud, keystone, admin):
    user, _ = keystone.member()
    old_password = user.password
    token = keystone.token_id(user)
    keystone.conn.identity.update_user(user, password="a-new-password-1")
    assert_gone(cloud, admin, token)
    assert keystone.token(user, password=old_password).status_code == 401
    fresh = keystone.token_id(user, password="a-new-password-1")
    assert validate(cloud, admin, fresh).status_code == 200

    # self-service change: the same
    resp = post(cloud, f"/users/{user.id}/password", {"user": {
        "original_password": "a-new-password-1", "password": "a-new-password-2"}})
    assert resp.status_code == 204, resp.text
    assert_gone(cloud, admin, fresh)


def test_disabling_or_deleting_a_project_revokes_its_tokens(cloud, keystone, admin):
    user, project = keystone.member()
    other_project = keystone.project()
    keystone.grant(user, "member", project=other_project)
    scoped = keystone.token_id(user, scope={"project": {"id": project.id}})
    elsewhere = keystone.token_id(user, scope={"project": {"id": other_project.id}})
    unscoped = keystone.token_id(user, scope="unscoped")

    keystone.conn.identity.update_project(project, is_enabled=False)
    assert_gone(cloud, admin, scoped)
    assert validate(cloud, admin, elsewhere).status_code == 200
    assert validate(cloud, admin, unscoped).status_code == 200
    assert keystone.token(user, scope={"project": {"id": project.id}}).status_code == 401
    keystone.conn.identity.update_project(project, is_enabled=True)
    assert_gone(cloud, admin, scoped)

    again = keystone.token_id(user, scope={"project": {"id": project.id}})
    keystone.conn.identity.delete_project(project)
    assert_gone(cloud, admin, again)
    assert validate(cloud, admin, elsewhere).status_code == 200


def test_removing_the_role_revokes_the_project_token(cloud, keystone, admin):
    user, project = keystone.member()
    token = keystone.token_id(user, scope={"project": {"id": project.id}})
    keystone.conn.identity.unassign_project_role_from_user(project, user, keystone.role("member"))
    assert_gone(cloud, admin, token)


def test_an_expired_token_is_refused(fresh_cloud):
    cloud = fresh_cloud(env={"KUMO_TOKEN_EXPIRATION": "2"})
    token = cloud.token()
    with cloud.http(token) as client:
        body = client.get("/identity/v3/auth/tokens", headers={SUBJECT: token}).json()["token"]
        lifetime = parse_time(body["expires_at"]) - parse_time(body["issued_at"])
        assert lifetime.total_seconds() == pytest.approx(2, abs=0.01)
    time.sleep(2.2)
    with cloud.http(cloud.token()) as admin:
        assert validate(cloud, admin, token).status_code == 404
    with cloud.http(token) as client:
        assert client.get("/identity/v3/auth/projects").status_code == 401
    resp = post(cloud, "/auth/tokens", {"auth": {"identity": {
        "methods": ["token"], "token": {"id": token}}}})
    assert resp.status_code == 404  # nor can it be re-scoped (Keystone: token not found)
    assert resp.json()["error"]["code"] == 404


# -- what a token reaches --------------------------------------------------------------------------

def test_auth_catalog(cloud, keystone):
    user, project = keystone.member()
    conn = keystone.connect(user, project=project)
    resp = conn.session.get(cloud.identity_url + "/auth/catalog")
    catalog = resp.json()["catalog"]
    assert [s["name"] for s in catalog if s["type"] == "identity"] == ["keystone"]

    with cloud.http(keystone.token_id(user, scope="unscoped")) as client:
        resp = client.get("/identity/v3/auth/catalog")
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "A project-scoped token is required to produce a service catalog."


def test_auth_projects_and_domains(cloud, keystone):
    user, project = keystone.member()
    disabled = keystone.project(is_enabled=False)
    keystone.grant(user, "reader", project=disabled)
    keystone.project()  # one the user has no role on
    conn = keystone.connect(user, project=project)
    names = [p["name"] for p in conn.session.get(cloud.identity_url + "/auth/projects").json()["projects"]]
    assert names == [project.name]  # not the disabled one, not the stranger
    assert conn.session.get(cloud.identity_url + "/auth/domains").json()["domains"] == []

    keystone.grant(user, "reader", domain=keystone.conn.identity.get_domain("default"))
    domains = conn.session.get(cloud.identity_url + "/auth/domains").json()["domains"]
    assert [d["id"] for d in domains] == ["default"]


def test_auth_system(cloud, keystone, admin):
    assert admin.get("/identity/v3/auth/system").json()["system"] == [{"all": True}]
    user, project = keystone.member()
    conn = keystone.connect(user, project=project)
    assert conn.session.get(cloud.identity_url + "/auth/system").json()["system"] == []
    assert cloud.http().get("/identity/v3/auth/system").status_code == 401
