"""Bad input gets Keystone's error body with the right status, never a 500.

Every error is ``{"error": {"code", "title", "message"}}`` with an ``x-openstack-request-id`` header.
"""

from __future__ import annotations

import re
import uuid

import openstack
import pytest

V3 = "/identity/v3"


def assert_error(resp, status: int, title: str, message: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "title", "message"}
    assert body["error"]["code"] == status and body["error"]["title"] == title
    if message is not None:
        assert body["error"]["message"] == message
    return body["error"]["message"]


@pytest.fixture
def log_mark(cloud):
    """No request may fail inside the server during the test: no unhandled exception (uvicorn logs it with
    its traceback), no 5xx error logged by the routing layer. (Not any traceback: the session cloud's
    background workers may log about resources that other test files left.)"""
    start = len(cloud.server.log())
    yield
    added = cloud.server.log()[start:]
    assert "Exception in ASGI application" not in added, added
    assert "ERROR   kumo.api:" not in added, added


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_malformed_json(admin, log_mark):
    for raw in (b"{bad", b'{"project": ', b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000):
        resp = admin.post(V3 + "/projects", content=raw, headers={"Content-Type": "application/json"})
        assert_error(resp, 400, "Bad Request", "Malformed request body: the body is not valid JSON.")


def test_wrong_types_name_the_field(admin, log_mark):
    cases = [
        ("/projects", {"project": {"name": 1}}, "project.name"),
        ("/projects", {"project": {"name": name("p"), "enabled": "yes"}}, "project.enabled"),
        ("/projects", {"project": {"name": name("p"), "tags": "a,b"}}, "project.tags"),
        ("/users", {"user": {"name": name("u"), "enabled": "true"}}, "user.enabled"),
        ("/users", {"user": {"name": ["u"]}}, "user.name"),
        ("/roles", {"role": {"name": None}}, "role.name"),
        ("/users", {"user": "alice"}, "user"),
        ("/projects", {"project": {}}, "name"),
        ("/domains", {"domain": {"name": name("d"), "enabled": 1}}, "domain.enabled"),
    ]
    for path, body, field in cases:
        message = assert_error(admin.post(V3 + path, json=body), 400, "Bad Request")
        assert message.startswith(f"Invalid input for field '{field}'"), (body, message)
    for body in ([], None, "project", 7):
        message = assert_error(admin.post(V3 + "/projects", json=body), 400, "Bad Request")
        assert message.startswith("Invalid input for field 'request body'")
    # in the token request too
    resp = admin.post(V3 + "/auth/tokens", json={"auth": {"identity": {"methods": "password"}}})
    assert assert_error(resp, 400, "Bad Request").startswith("Invalid input for field 'auth.identity.methods'")


def test_wrong_types_through_the_sdk(cloud, log_mark):
    conn = cloud.sdk()
    with pytest.raises(openstack.exceptions.BadRequestException, match="project.enabled"):
        conn.identity.create_project(name=name("p"), is_enabled="maybe")


def test_oversized_fields_and_bodies(admin, log_mark):
    for path, key in (("/projects", "project"), ("/users", "user"), ("/roles", "role"), ("/domains", "domain")):
        message = assert_error(admin.post(V3 + path, json={key: {"name": "n" * 300}}), 400, "Bad Request")
        assert message.startswith(f"Invalid input for field '{key}.name'") and "is too long" in message
    resp = admin.post(V3 + "/projects", json={"project": {"name": name("p"), "tags": ["t" * 256]}})
    assert_error(resp, 400, "Bad Request")
    # over max_request_body_size (Keystone's 114688 bytes): 413
    resp = admin.post(V3 + "/projects", json={"project": {"name": name("p"), "description": "d" * 120_000}})
    assert_error(resp, 413, "Request Entity Too Large", "Request is too large.")
    resp = admin.post(V3 + "/auth/tokens", content=b" " * 200_000, headers={"Content-Type": "application/json"})
    assert_error(resp, 413, "Request Entity Too Large")


def test_unknown_ids(admin, log_mark):
    for kind in ("projects", "users", "roles", "domains"):
        singular = kind[:-1]
        assert_error(admin.get(f"{V3}/{kind}/nope"), 404, "Not Found", f"Could not find {singular}: nope.")
        assert_error(admin.patch(f"{V3}/{kind}/nope", json={singular: {"description": "x"}}), 404, "Not Found")
        assert_error(admin.delete(f"{V3}/{kind}/nope"), 404, "Not Found")
    member = admin.get(V3 + "/roles", params={"name": "member"}).json()["roles"][0]["id"]
    admin_project = admin.get(V3 + "/projects", params={"name": "admin"}).json()["projects"][0]["id"]
    resp = admin.put(f"{V3}/projects/{admin_project}/users/nope/roles/{member}")
    assert_error(resp, 404, "Not Found", "Could not find user: nope.")
    assert_error(admin.get(V3 + "/users/nope/projects"), 404, "Not Found")
    assert_error(admin.put(V3 + "/roles/nope/implies/" + member), 404, "Not Found", "Could not find role: nope.")
    # a user created with a default project that does not exist
    resp = admin.post(V3 + "/users", json={"user": {"name": name("u"), "default_project_id": "nope"}})
    assert_error(resp, 404, "Not Found", "Could not find project: nope.")


def test_unsupported_media_type(admin, log_mark):
    for ctype in ("application/xml", "text/plain", "application/x-www-form-urlencoded"):
        resp = admin.post(V3 + "/projects", content=b'{"project": {"name": "x"}}', headers={"Content-Type": ctype})
        assert_error(resp, 415, "Unsupported Media Type", f"Unsupported Content-Type: {ctype}")


def test_duplicate_names(cloud, admin, log_mark):
    conn = cloud.sdk()
    project = conn.identity.create_project(name=name("dup"), domain_id="default")
    user = conn.identity.create_user(name=name("dup"), domain_id="default")
    role = conn.identity.create_role(name=name("dup"))
    domain = conn.identity.create_domain(name=name("dup"))
    try:
        with pytest.raises(openstack.exceptions.ConflictException):
            conn.identity.create_project(name=project.name, domain_id="default")
        for path, body, message in [
            ("/projects", {"project": {"name": project.name}},
             ("Conflict occurred attempting to store project - it is not permitted to have two projects with"
              f" the same name in the same domain : {project.name}.")),
            ("/users", {"user": {"name": user.name}},
             (f"Conflict occurred attempting to store user - Duplicate entry found with name {user.name} at"
              " domain ID default.")),
            ("/roles", {"role": {"name": role.name}},
             f"Conflict occurred attempting to store role - Duplicate entry found with name {role.name}."),
            ("/domains", {"domain": {"name": domain.name}},
             f"Conflict occurred attempting to store domain - Duplicate entry found with name {domain.name}."),
        ]:
            assert_error(admin.post(V3 + path, json=body), 409, "Conflict", message)
        # renaming onto an existing name is a conflict too
        other = conn.identity.create_project(name=name("dup"), domain_id="default")
        try:
            resp = admin.patch(f"{V3}/projects/{other.id}", json={"project": {"name": project.name}})
            assert_error(resp, 409, "Conflict")
        finally:
            conn.identity.delete_project(other)
        # the same name in another domain is fine
        elsewhere = conn.identity.create_project(name=project.name, domain_id=domain.id)
        conn.identity.delete_project(elsewhere)
    finally:
        conn.identity.delete_project(project)
        conn.identity.delete_user(user)
        conn.identity.delete_role(role)
        conn.identity.update_domain(domain, is_enabled=False)
        conn.identity.delete_domain(domain)


def test_unknown_routes_and_methods(cloud, admin, log_mark):
    for path in (V3 + "/nothing", V3 + "/projects/x/nothing", "/identity/v2.0/tenants", "/nothing", "/v3/users"):
        assert_error(admin.get(path), 404, "Not Found", "The resource could not be found.")
    for method, path in (("PUT", V3 + "/projects"), ("DELETE", V3 + "/auth/catalog"), ("POST", V3 + "/roles/x"),
                         ("GET", V3 + "/users/x/password"), ("PATCH", V3 + "/auth/tokens")):
        assert_error(admin.request(method, path), 405, "Method Not Allowed")


def test_authentication_errors(cloud, log_mark):
    unauthenticated = "The request you have made requires authentication."
    with cloud.http() as anonymous:
        resp = anonymous.get(V3 + "/projects")
        assert_error(resp, 401, "Unauthorized", unauthenticated)
        assert resp.headers["www-authenticate"].startswith("Keystone uri=")
    with cloud.http("not-a-token") as bogus:
        assert_error(bogus.get(V3 + "/users"), 401, "Unauthorized", unauthenticated)
    with cloud.http("x" * 5000) as long_token:
        assert_error(long_token.get(V3 + "/users"), 401, "Unauthorized", unauthenticated)
    with cloud.http(cloud.token()) as admin:
        assert_error(admin.get(V3 + "/auth/tokens"), 400, "Bad Request", "X-Subject-Token is required.")
        assert_error(admin.get(V3 + "/auth/tokens", headers={"X-Subject-Token": "x"}), 404, "Not Found")


def test_no_500_anywhere(admin, log_mark):
    """Every identity route, with made-up ids and odd bodies: a 4xx in Keystone's body, never a 5xx."""
    from kumo.identity.http.common import router

    # (empty bodies are the same for every route: test_wrong_types_name_the_field covers them)
    bodies = [b'{"user": {"name": ""}, "project": {"name": " "}, "role": {}, "domain": {}, "tags": [1]}']
    for route in router.routes:
        path = re.sub(r"\{[^}]+\}", "nope-" + uuid.uuid4().hex[:6], route.path)
        if path in ("/", "/v3", "/v3/"):
            continue
        for method in sorted(route.methods - ({"HEAD"} if "GET" in route.methods else set())):
            for body in ([None] if method in ("GET", "HEAD", "DELETE") else bodies):
                resp = admin.request(method, "/identity" + path, content=body,
                                     headers={"Content-Type": "application/json"})
                assert resp.status_code < 500, (method, path, body, resp.text)
                assert resp.headers["x-openstack-request-id"].startswith("req-")
                if resp.status_code >= 400 and method != "HEAD":
                    error = resp.json()["error"]
                    assert error["code"] == resp.status_code and error["message"], (method, path, resp.text)
