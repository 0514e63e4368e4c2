"""The first thing a user does: start Kumo, ask for a token with the stock CLI."""


def test_openstack_token_issue(cloud):
    token = cloud.openstack("token", "issue", "-f", "json")
    assert token["project_id"] and token["user_id"] and token["id"]


def test_versions_and_request_id(cloud):
    with cloud.http() as client:
        resp = client.get("/identity")
        assert resp.status_code == 300
        assert resp.json()["versions"]["values"][0]["id"].startswith("v3")
        assert resp.headers["x-openstack-request-id"].startswith("req-")
        root = client.get("/")
        assert root.status_code == 300
