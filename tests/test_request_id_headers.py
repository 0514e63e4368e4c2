"""A service's unknown paths and wrong methods carry the same request-id headers as its normal replies."""

from __future__ import annotations


def _ids(resp) -> tuple[str, str | None]:
    return resp.headers.get("x-openstack-request-id"), resp.headers.get("x-compute-request-id")


def test_compute_404_and_405_carry_x_compute_request_id(admin):
    normal = admin.get("/compute/v2.1/flavors")
    assert normal.status_code == 200
    rid, compute_rid = _ids(normal)
    assert rid and rid.startswith("req-") and compute_rid == rid
    for method, path, status, fault in (("GET", "/compute/v2.1/no-such-thing", 404, "itemNotFound"),
                                        ("GET", "/compute/nowhere/at/all", 404, "itemNotFound"),
                                        ("PATCH", "/compute/v2.1/flavors", 405, "badMethod")):
        resp = admin.request(method, path)
        assert resp.status_code == status, (method, path, resp.text)
        assert resp.json()[fault]["code"] == status
        rid, compute_rid = _ids(resp)
        assert rid and rid.startswith("req-") and compute_rid == rid, (method, path, resp.headers)


def test_other_services_unknown_paths_keep_only_their_own_headers(admin):
    for path, check in (("/network/v2.0/no-such-thing", lambda b: b["NeutronError"]["type"]),
                        ("/identity/v3/no-such-thing", lambda b: b["error"]["code"] == 404)):
        resp = admin.get(path)
        assert resp.status_code == 404 and check(resp.json()), (path, resp.text)
        rid, compute_rid = _ids(resp)
        assert rid and rid.startswith("req-") and compute_rid is None
