"""Cached validations never outlive a change: every identity write invalidates them, at once."""

import uuid


def _member(cloud, admin):
    name = f"cache-{uuid.uuid4().hex[:8]}"
    project = admin.post("/identity/v3/projects", json={"project": {"name": name}}).json()["project"]
    user = admin.post("/identity/v3/users", json={"user": {"name": name, "password": "pw-" + name,
                                                            "default_project_id": project["id"]}}).json()["user"]
    roles = {r["name"]: r["id"] for r in admin.get("/identity/v3/roles").json()["roles"]}
    grant = f"/identity/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['member']}"
    assert admin.put(grant).status_code == 204
    token = cloud.token(name, "pw-" + name, project=name)
    return project, user, grant, token


def test_role_removal_is_seen_by_a_cached_token(cloud, admin):
    project, user, grant, token = _member(cloud, admin)
    with cloud.http(token) as client:
        for _ in range(3):  # validated, then served from the cache
            assert client.get(f"/identity/v3/projects/{project['id']}").status_code == 200
        assert admin.delete(grant).status_code == 204
        assert client.get(f"/identity/v3/projects/{project['id']}").status_code == 401


def test_disabling_the_project_is_seen_by_a_cached_token(cloud, admin):
    project, user, grant, token = _member(cloud, admin)
    with cloud.http(token) as client:
        assert client.get(f"/identity/v3/users/{user['id']}").status_code == 200
        assert client.get(f"/identity/v3/users/{user['id']}").status_code == 200
        assert admin.patch(f"/identity/v3/projects/{project['id']}",
                           json={"project": {"enabled": False}}).status_code == 200
        assert client.get(f"/identity/v3/users/{user['id']}").status_code == 401
