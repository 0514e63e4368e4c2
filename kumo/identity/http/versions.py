"""Version discovery: ``GET /identity`` (300, every version) and ``GET /identity/v3``."""

from kumo.api.routing import Call, Reply
from kumo.identity.http.common import router

UPDATED = "2024-03-01T00:00:00Z"
VERSION_ID = "v3.14"


def version_document(call: Call) -> dict:
    return {
        "id": VERSION_ID, "status": "stable", "updated": UPDATED,
        "links": [{"rel": "self", "href": call.cloud.settings.base_url + "/identity/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


@router.get("/")
def list_versions(call: Call):
    return Reply({"versions": {"values": [version_document(call)]}}, status=300)


@router.get("/v3")
def show_version(call: Call):
    return {"version": version_document(call)}


router.get("/v3/")(show_version)
