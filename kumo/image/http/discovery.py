"""Version discovery (``/image/``, ``/image/versions``) and the published schemas (``/v2/schemas/…``)."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.errors import NotFound
from kumo.image import schemas
from kumo.image.http.common import router
from kumo.image.policies import policy

# v2.7 brought hidden images and the multihash (os_hash_*) fields: the newest behaviour served here
VERSIONS = [f"v2.{n}" for n in range(7, -1, -1)]


def _versions(call: Call) -> dict:
    href = call.cloud.settings.base_url + "/image/v2/"
    return {"versions": [{"id": v, "status": "CURRENT" if i == 0 else "SUPPORTED",
                          "links": [{"rel": "self", "href": href}]} for i, v in enumerate(VERSIONS)]}


@router.get("/")
def versions_root(call: Call):
    return Reply(_versions(call), status=300)


@router.get("/versions")
def versions(call: Call):
    return _versions(call)


@router.get("/v2/schemas/{name}")
def schema(call: Call):
    policy.enforce(call.ctx, "image:get_images")  # schemas are for authenticated readers, as in Glance
    found = schemas.PUBLISHED.get(call.params["name"])
    if found is None:
        raise NotFound("The resource could not be found.")
    return found
