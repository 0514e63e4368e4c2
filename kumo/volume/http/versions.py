"""Version discovery: ``GET /volume/`` (300, every version) and ``GET /volume/v3/`` (200)."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.volume.http.common import MAX_VERSION, MIN_VERSION, base, router


def _v3(call: Call) -> dict:
    return {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
            "updated": "2016-02-08T12:20:21Z",
            "links": [{"href": f"{base(call)}/v3/", "rel": "self"},
                      {"href": "https://docs.openstack.org/", "type": "text/html", "rel": "describedby"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


@router.get("/")
def list_versions(call: Call):
    return Reply({"versions": [_v3(call)]}, status=300)


@router.get("/v3/")
def show_v3(call: Call):
    return {"versions": [_v3(call)]}


@router.get("/v3")
def show_v3_no_slash(call: Call):
    return {"versions": [_v3(call)]}
