"""Regions, services and endpoints: managing the catalog through the stock CLI and raw HTTP."""

from __future__ import annotations

import pytest

from tests.identity.conftest import unique

V3 = "/identity/v3"


class Catalog:
    """Makes catalog entries as the admin and removes what is left of them afterwards."""

    def __init__(self, admin):
        self.admin = admin
        self.made: list[str] = []  # paths, deleted newest first

    def track(self, kind: str, ident: str) -> str:
        self.made.append(f"{V3}/{kind}/{ident}")
        return ident

    def region(self, **attrs) -> dict:
        resp = self.admin.post(f"{V3}/regions", json={"region": attrs})
        assert resp.status_code == 201, resp.text
        self.track("regions", resp.json()["region"]["id"])
        return resp.json()["region"]

    def service(self, **attrs) -> dict:
        attrs.setdefault("type", unique("type"))
        attrs.setdefault("name", unique("svc"))
        resp = self.admin.post(f"{V3}/services", json={"service": attrs})
        assert resp.status_code == 201, resp.text
        self.track("services", resp.json()["service"]["id"])
        return resp.json()["service"]

    def endpoint(self, **attrs) -> dict:
        attrs.setdefault("interface", "public")
        attrs.setdefault("url", "http://example.com/" + unique("ep"))
        resp = self.admin.post(f"{V3}/endpoints", json={"endpoint": attrs})
        assert resp.status_code == 201, resp.text
        self.track("endpoints", resp.json()["endpoint"]["id"])
        return resp.json()["endpoint"]

    def cleanup(self) -> None:
        for path in reversed(self.made):
            self.admin.delete(path)


@pytest.fixture
def catalog(admin):
    helper = Catalog(admin)
    yield helper
    helper.cleanup()


def assert_error(resp, status: int, message: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == status
    if message is not None:
        assert error["message"] == message


# -- regions -----------------------------------------------------------------------------------------

def test_regions_through_the_cli(cloud, catalog, admin):
    parent, child = unique("region"), unique("region")
    catalog.track("regions", child)
    catalog.track("regions", parent)
    made = cloud.openstack("region", "create", parent, "--description", "a parent", "-f", "json")
    assert made == {"region": parent, "description": "a parent", "parent_region": None}
    cloud.openstack("region", "create", child, "--parent-region", parent)
    cloud.openstack("region", "set", child, "--description", "a child")
    assert cloud.openstack("region", "show", child, "-f", "json") == {
        "region": child, "description": "a child", "parent_region": parent}
    listed = {r["Region"]: r for r in cloud.openstack("region", "list", "-f", "json")}
    assert listed[child] == {"Region": child, "Parent Region": parent, "Description": "a child"}
    assert "RegionOne" in listed
    # deleting a region takes its child regions with it, as Keystone does
    cloud.openstack("region", "delete", parent)
    assert_error(admin.get(f"{V3}/regions/{child}"), 404, f"Could not find region: {child}.")


def test_region_ids_parents_and_filters(catalog, admin):
    generated = catalog.region(description="no id given")
    assert len(generated["id"]) == 32 and generated["parent_region_id"] is None
    chosen = unique("region")
    catalog.track("regions", chosen)
    put = admin.put(f"{V3}/regions/{chosen}", json={"region": {"description": "by PUT", "parent_region_id":
                                                               generated["id"]}})
    assert put.status_code == 201, put.text
    assert put.json()["region"] == {"id": chosen, "description": "by PUT", "parent_region_id": generated["id"],
                                    "links": {"self": put.json()["region"]["links"]["self"]}}
    assert put.json()["region"]["links"]["self"].endswith(f"/identity/v3/regions/{chosen}")
    by_post = catalog.region(id=unique("region"), extra_field="kept")
    assert by_post["extra_field"] == "kept" and by_post["description"] == ""

    children = admin.get(f"{V3}/regions", params={"parent_region_id": generated["id"]}).json()["regions"]
    assert [r["id"] for r in children] == [chosen]

    moved = admin.patch(f"{V3}/regions/{chosen}", json={"region": {"parent_region_id": by_post["id"]}})
    assert moved.status_code == 200 and moved.json()["region"]["parent_region_id"] == by_post["id"]
    # a region may not become its own ancestor
    assert_error(admin.patch(f"{V3}/regions/{by_post['id']}", json={"region": {"parent_region_id": chosen}}), 400,
                 f"The specified parent region {chosen} would create a circular region hierarchy.")
    assert_error(admin.patch(f"{V3}/regions/{chosen}", json={"region": {"parent_region_id": chosen}}), 400)
    detached = admin.patch(f"{V3}/regions/{chosen}", json={"region": {"parent_region_id": None}})
    assert detached.json()["region"]["parent_region_id"] is None


def test_region_errors(catalog, admin):
    region = catalog.region()
    missing = unique("nowhere")
    assert_error(admin.post(f"{V3}/regions", json={"region": {"id": region["id"]}}), 409,
                 f"Conflict occurred attempting to store region - Duplicate ID, {region['id']}.")
    assert_error(admin.put(f"{V3}/regions/{region['id']}", json={"region": {}}), 409)
    assert_error(admin.post(f"{V3}/regions", json={"region": {"parent_region_id": missing}}), 404,
                 f"Could not find region: {missing}.")
    assert_error(admin.put(f"{V3}/regions/{unique('r')}", json={"region": {"id": "other"}}), 400)
    for method in ("GET", "DELETE", "PATCH"):
        body = {"region": {"description": "x"}} if method == "PATCH" else None
        assert_error(admin.request(method, f"{V3}/regions/{missing}", json=body), 404,
                     f"Could not find region: {missing}.")
    assert_error(admin.patch(f"{V3}/regions/{region['id']}", json={"region": {}}), 400)
    assert_error(admin.post(f"{V3}/regions", json={"region": {"description": 5}}), 400)


def test_a_region_with_endpoints_cannot_be_deleted(catalog, admin):
    parent = catalog.region()
    child = catalog.region(parent_region_id=parent["id"])
    endpoint = catalog.endpoint(service_id=catalog.service()["id"], region_id=child["id"])
    for region in (parent, child):
        assert_error(admin.delete(f"{V3}/regions/{region['id']}"), 403,
                     f"Unable to delete region {region['id']} because it or its child regions have associated"
                     " endpoints.")
    assert admin.delete(f"{V3}/endpoints/{endpoint['id']}").status_code == 204
    assert admin.delete(f"{V3}/regions/{parent['id']}").status_code == 204
    assert admin.get(f"{V3}/regions/{child['id']}").status_code == 404


# -- services ----------------------------------------------------------------------------------------

def test_services_through_the_cli(cloud, catalog, admin):
    kind = unique("type")
    made = cloud.openstack("service", "create", "--name", "svc-cli", "--description", "made by the CLI", kind,
                           "-f", "json")
    catalog.track("services", made["id"])
    assert made == {"id": made["id"], "name": "svc-cli", "type": kind, "enabled": True,
                    "description": "made by the CLI"}
    cloud.openstack("service", "set", made["id"], "--disable", "--description", "off")
    shown = cloud.openstack("service", "show", made["id"], "-f", "json")
    assert (shown["enabled"], shown["description"], shown["type"]) == (False, "off", kind)
    listed = cloud.openstack("service", "list", "--long", "-f", "json")
    assert {"ID": made["id"], "Name": "svc-cli", "Type": kind, "Description": "off", "Enabled": False} in listed
    assert "identity" in [s["Type"] for s in listed]
    cloud.openstack("service", "delete", made["id"])
    assert_error(admin.get(f"{V3}/services/{made['id']}"), 404, f"Could not find service: {made['id']}.")


def test_service_filters_updates_and_errors(catalog, admin):
    first = catalog.service(description="one")
    catalog.service(type=first["type"])
    other = catalog.service()
    of_type = admin.get(f"{V3}/services", params={"type": first["type"]}).json()["services"]
    assert len(of_type) == 2 and {s["type"] for s in of_type} == {first["type"]}
    named = admin.get(f"{V3}/services", params={"name": other["name"]}).json()["services"]
    assert [s["id"] for s in named] == [other["id"]]
    updated = admin.patch(f"{V3}/services/{first['id']}", json={"service": {"name": "renamed", "colour": "red"}})
    assert updated.json()["service"] == {**first, "name": "renamed", "colour": "red"}

    missing = "0" * 32
    assert_error(admin.post(f"{V3}/services", json={"service": {"name": "no type"}}), 400,
                 "Invalid input for field 'type': 'type' is a required property")
    assert_error(admin.post(f"{V3}/services", json={"service": {"type": "x", "enabled": "yes"}}), 400)
    assert_error(admin.patch(f"{V3}/services/{first['id']}", json={"service": {}}), 400)
    for method in ("GET", "PATCH", "DELETE"):
        body = {"service": {"name": "x"}} if method == "PATCH" else None
        assert_error(admin.request(method, f"{V3}/services/{missing}", json=body), 404,
                     f"Could not find service: {missing}.")


def test_deleting_a_service_deletes_its_endpoints(catalog, admin):
    service = catalog.service()
    endpoints = [catalog.endpoint(service_id=service["id"], interface=i, region_id="RegionOne")
                 for i in ("public", "internal")]
    assert admin.delete(f"{V3}/services/{service['id']}").status_code == 204
    for endpoint in endpoints:
        assert_error(admin.get(f"{V3}/endpoints/{endpoint['id']}"), 404,
                     f"Could not find endpoint: {endpoint['id']}.")
    assert admin.get(f"{V3}/endpoints", params={"service_id": service["id"]}).json()["endpoints"] == []


# -- endpoints ---------------------------------------------------------------------------------------

def test_endpoints_through_the_cli(cloud, catalog, admin):
    service = catalog.service()
    region = catalog.region()
    url = "http://example.com/v1/$(project_id)s"
    made = cloud.openstack("endpoint", "create", "--region", region["id"], service["id"], "public", url, "-f", "json")
    catalog.track("endpoints", made["id"])
    assert made == {"id": made["id"], "enabled": True, "interface": "public", "region": region["id"],
                    "region_id": region["id"], "service_id": service["id"], "url": url,
                    "service_name": service["name"], "service_type": service["type"]}
    listed = cloud.openstack("endpoint", "list", "--service", service["id"], "--interface", "public",
                             "--region", region["id"], "-f", "json")
    assert listed == [{"ID": made["id"], "Region": region["id"], "Service Name": service["name"],
                       "Service Type": service["type"], "Enabled": True, "Interface": "public", "URL": url}]
    cloud.openstack("endpoint", "set", made["id"], "--interface", "internal", "--url", "http://example.org/v2",
                    "--disable")
    shown = cloud.openstack("endpoint", "show", made["id"], "-f", "json")
    assert (shown["interface"], shown["url"], shown["enabled"]) == ("internal", "http://example.org/v2", False)
    cloud.openstack("endpoint", "delete", made["id"])
    assert_error(admin.get(f"{V3}/endpoints/{made['id']}"), 404, f"Could not find endpoint: {made['id']}.")


def test_endpoint_filters_and_the_legacy_region(catalog, admin):
    service, other = catalog.service(), catalog.service()
    legacy = unique("region")
    catalog.track("regions", legacy)
    public = catalog.endpoint(service_id=service["id"], region=legacy, interface="public")
    # ``region`` (Keystone's v3.0 form) names the region, which is created when missing
    assert (public["region"], public["region_id"]) == (legacy, legacy)
    assert admin.get(f"{V3}/regions/{legacy}").json()["region"]["id"] == legacy
    internal = catalog.endpoint(service_id=service["id"], interface="internal", name="extra fields are kept")
    assert internal["region_id"] is None and internal["name"] == "extra fields are kept"
    catalog.endpoint(service_id=other["id"], interface="admin", region_id=legacy)

    def ids(**params):
        return sorted(e["id"] for e in admin.get(f"{V3}/endpoints", params=params).json()["endpoints"])

    assert ids(service_id=service["id"]) == sorted([public["id"], internal["id"]])
    assert ids(service_id=service["id"], interface="internal") == [internal["id"]]
    assert len(ids(region_id=legacy)) == 2
    assert ids(region_id=legacy, interface="public") == [public["id"]]
    assert_error(admin.get(f"{V3}/endpoints", params={"interface": "private"}), 400)

    moved = admin.patch(f"{V3}/endpoints/{internal['id']}", json={"endpoint": {"service_id": other["id"],
                                                                               "region_id": legacy}})
    assert (moved.json()["endpoint"]["service_id"], moved.json()["endpoint"]["region"]) == (other["id"], legacy)


def test_endpoint_errors(catalog, admin):
    service = catalog.service()
    endpoint = catalog.endpoint(service_id=service["id"])
    base = {"service_id": service["id"], "interface": "public", "url": "http://example.com"}

    def create(**changes):
        return admin.post(f"{V3}/endpoints", json={"endpoint": {**base, **changes}})

    bad_interface = create(interface="private")
    assert_error(bad_interface, 400)
    assert bad_interface.json()["error"]["message"].endswith(
        "interface': 'private' is not one of ['admin', 'internal', 'public']")
    for enabled in ("False", "True"):  # a string is no boolean (Tempest's negative tests)
        assert_error(create(enabled=enabled), 400)
        assert_error(admin.patch(f"{V3}/endpoints/{endpoint['id']}", json={"endpoint": {"enabled": enabled}}), 400)
    assert_error(create(url="not a url"), 400)
    assert_error(create(url="http://example.com/$(nonsense)s"), 400,
                 "Cannot create an endpoint with an invalid URL: http://example.com/$(nonsense)s.")
    assert_error(create(service_id="0" * 32), 400)
    assert "service_id" in create(service_id="0" * 32).json()["error"]["message"]
    assert_error(create(region_id=unique("nowhere")), 400)
    without_url = {k: v for k, v in base.items() if k != "url"}
    assert_error(admin.post(f"{V3}/endpoints", json={"endpoint": without_url}), 400,
                 "Invalid input for field 'url': 'url' is a required property")
    assert_error(admin.patch(f"{V3}/endpoints/{endpoint['id']}", json={"endpoint": {"interface": "x"}}), 400)
    assert_error(admin.patch(f"{V3}/endpoints/{endpoint['id']}", json={"endpoint": {"service_id": "0" * 32}}),
                 400)
    for method in ("GET", "PATCH", "DELETE"):
        body = {"endpoint": {"url": "http://x"}} if method == "PATCH" else None
        assert_error(admin.request(method, f"{V3}/endpoints/{'0' * 32}", json=body), 404,
                     f"Could not find endpoint: {'0' * 32}.")


def test_the_token_catalog_follows_the_changes(cloud, catalog, admin):
    service = catalog.service(type=unique("type"))
    endpoint = catalog.endpoint(service_id=service["id"], region_id="RegionOne",
                                url="http://example.com/v1/$(project_id)s")

    def entry():
        token = admin.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": cloud.token()}).json()["token"]
        return next((s for s in token["catalog"] if s["id"] == service["id"]), None), token["project"]["id"]

    found, project_id = entry()
    assert found["type"] == service["type"] and found["name"] == service["name"]
    assert found["endpoints"] == [{"id": endpoint["id"], "interface": "public", "region": "RegionOne",
                                   "region_id": "RegionOne", "url": f"http://example.com/v1/{project_id}"}]
    admin.patch(f"{V3}/endpoints/{endpoint['id']}", json={"endpoint": {"enabled": False}}).raise_for_status()
    assert entry()[0] is None
    admin.patch(f"{V3}/endpoints/{endpoint['id']}", json={"endpoint": {"enabled": True}}).raise_for_status()
    admin.patch(f"{V3}/services/{service['id']}", json={"service": {"enabled": False}}).raise_for_status()
    assert entry()[0] is None


# -- who may ---------------------------------------------------------------------------------------

def test_a_member_reads_regions_but_manages_nothing(cloud, keystone, catalog):
    service = catalog.service()
    user, project = keystone.member()
    with cloud.http(keystone.token_id(user, scope={"project": {"id": project.id}})) as client:
        assert "RegionOne" in [r["id"] for r in client.get(f"{V3}/regions").json()["regions"]]
        assert client.get(f"{V3}/regions/RegionOne").status_code == 200
        assert_error(client.post(f"{V3}/regions", json={"region": {}}), 403,
                     "You are not authorized to perform the requested action: identity:manage_regions.")
        assert_error(client.delete(f"{V3}/regions/RegionOne"), 403)
        assert_error(client.get(f"{V3}/services"), 403)
        assert_error(client.patch(f"{V3}/services/{service['id']}", json={"service": {"enabled": False}}), 403)
        assert_error(client.get(f"{V3}/endpoints"), 403)
        assert_error(client.post(f"{V3}/endpoints", json={"endpoint": {
            "service_id": service["id"], "interface": "public", "url": "http://example.com"}}), 403)
