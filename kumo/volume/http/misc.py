"""Availability zones, extensions, limits and quota sets."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.db.filters import as_bool
from kumo.errors import BadRequest
from kumo.volume import quota
from kumo.volume.filtering import RESOURCE_FILTERS
from kumo.volume.http.common import at_least, body_object, project, require, router
from kumo.volume.policies import policy
from kumo.volume.volumes import AVAILABILITY_ZONE

EXTENSIONS = [
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
]


@router.get("/v3/{project_id}/os-availability-zone")
def list_zones(call: Call):
    project(call)
    return {"availabilityZoneInfo": [{"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": True}}]}


@router.get("/v3/{project_id}/os-hosts")
def list_hosts(call: Call):
    project_id = project(call)
    policy.enforce(call.ctx, "volume:admin_action", {"project_id": project_id})
    driver = call.cloud.volume_driver.name
    return {"hosts": [{"host_name": f"kumo@{driver}", "service": "cinder-volume", "zone": AVAILABILITY_ZONE,
                       "service-status": "available", "service-state": "enabled", "last-update": None}]}


@router.get("/v3/{project_id}/extensions")
def list_extensions(call: Call):
    project(call)
    return {"extensions": [{"alias": alias, "name": name, "description": description, "links": [],
                            "updated": "2013-01-01T00:00:00+00:00",
                            "namespace": f"https://docs.openstack.org/volume/ext/{alias}/api/v1"}
                           for alias, name, description in EXTENSIONS]}


@router.get("/v3/{project_id}/limits")
def show_limits(call: Call):
    project_id = project(call)
    policy.enforce(call.ctx, "limits:get", {"project_id": project_id})
    if at_least(call, "3.39") and call.query.get("project_id") and policy.check(call.ctx, "volume:admin_action"):
        project_id = call.query["project_id"]  # 3.39: an admin reads another project's limits
    q = quota.quota_set(call.db, project_id, usage_too=True)
    return {"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": q["volumes"]["limit"], "maxTotalSnapshots": q["snapshots"]["limit"],
        "maxTotalVolumeGigabytes": q["gigabytes"]["limit"], "maxTotalBackups": q["backups"]["limit"],
        "maxTotalBackupGigabytes": q["backup_gigabytes"]["limit"],
        "totalVolumesUsed": q["volumes"]["in_use"], "totalSnapshotsUsed": q["snapshots"]["in_use"],
        "totalGigabytesUsed": q["gigabytes"]["in_use"], "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}}


def _target_project(call: Call) -> str:
    project(call)
    target = call.params["target_id"]
    return target


@router.get("/v3/{project_id}/os-quota-sets/{target_id}/defaults")
def show_quota_defaults(call: Call):
    target = _target_project(call)
    policy.enforce(call.ctx, "quota:get", {"project_id": target})
    return {"quota_set": {"id": target, **quota.quota_set(call.db, target, defaults=True)}}


@router.get("/v3/{project_id}/os-quota-sets/{target_id}")
def show_quota(call: Call):
    target = _target_project(call)
    policy.enforce(call.ctx, "quota:get", {"project_id": target})
    usage = as_bool(call.query.get("usage", "false"))
    return {"quota_set": {"id": target, **quota.quota_set(call.db, target, usage_too=usage)}}


@router.put("/v3/{project_id}/os-quota-sets/{target_id}")
def update_quota(call: Call):
    target = _target_project(call)
    policy.enforce(call.ctx, "quota:update", {"project_id": target})
    values = body_object(call, "quota_set")
    values = {k: val for k, val in values.items() if k not in ("tenant_id", "id")}
    if not values:
        raise BadRequest("Missing required element 'quota_set' in request body.")
    quota.update(call.db, target, values)
    return {"quota_set": quota.quota_set(call.db, target)}


@router.delete("/v3/{project_id}/os-quota-sets/{target_id}")
def delete_quota(call: Call):
    target = _target_project(call)
    policy.enforce(call.ctx, "quota:update", {"project_id": target})
    quota.reset(call.db, target)
    return Reply(None, status=200)


@router.get("/v3/{project_id}/resource_filters")
def list_resource_filters(call: Call):
    """3.33: which filters each resource's lists take (``?resource=volume`` for one)."""
    require(call, "3.33")
    project(call)
    wanted = call.query.get("resource")
    return {"resource_filters": [{"resource": name, "filters": list(keys)}
                                 for name, keys in RESOURCE_FILTERS.items() if wanted in (None, name)]}
