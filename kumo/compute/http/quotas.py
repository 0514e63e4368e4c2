"""``/v2.1/os-quota-sets``: show, defaults, detail, update and reset (admin); and ``/v2.1/limits``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import limits
from kumo.compute.http.common import at_least, router
from kumo.compute.policies import policy
from kumo.errors import BadRequest

LIMIT = {"type": ["integer", "string"], "pattern": r"^-?[0-9]+$", "minimum": -1}
UPDATE = {"type": "object", "required": ["quota_set"], "properties": {"quota_set": {
    "type": "object", "additionalProperties": False,
    "properties": {**{name: LIMIT for name in {**limits.DEFAULTS, **limits.NETWORK_DEFAULTS}},
                   "force": {"type": ["boolean", "string"]}}}}}


def _shown(call: Call, values: dict) -> dict:
    hidden = set()
    if at_least(call, 36):
        hidden |= set(limits.NETWORK_DEFAULTS)
    if at_least(call, 57):
        hidden |= {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
    return {k: val for k, val in values.items() if k not in hidden}


def _project(call: Call, action: str) -> str:
    project_id = call.params["project_id"]
    policy.enforce(call.ctx, action, {"project_id": project_id})
    return project_id


@router.get("/v2.1/os-quota-sets/{project_id}")
def show_quotas(call: Call):
    project_id = _project(call, "os_compute_api:os-quota-sets:show")
    return {"quota_set": {"id": project_id, **_shown(call, limits.limits(call.db, project_id))}}


@router.get("/v2.1/os-quota-sets/{project_id}/defaults")
def default_quotas(call: Call):
    project_id = _project(call, "os_compute_api:os-quota-sets:defaults")
    return {"quota_set": {"id": project_id, **_shown(call, limits.limits(call.db, project_id, defaults_only=True))}}


@router.get("/v2.1/os-quota-sets/{project_id}/detail")
def detail_quotas(call: Call):
    project_id = _project(call, "os_compute_api:os-quota-sets:show")
    used = limits.in_use(call.db, project_id, call.query.get("user_id") or call.ctx.user_id)
    values = _shown(call, limits.limits(call.db, project_id))
    return {"quota_set": {"id": project_id, **{k: {"limit": val, "in_use": used.get(k, 0), "reserved": 0}
                                                for k, val in values.items()}}}


@router.put("/v2.1/os-quota-sets/{project_id}")
def update_quotas(call: Call):
    project_id = _project(call, "os_compute_api:os-quota-sets:update")
    body = v.check(call.body, UPDATE)["quota_set"]
    force = str(body.pop("force", False)).lower() in ("true", "1", "yes")
    if (at_least(call, 36) and set(body) & set(limits.NETWORK_DEFAULTS)) or (at_least(call, 57) and set(body) & {
            "injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}):
        raise BadRequest("Invalid input for field/attribute quota_set. Additional properties are not allowed")
    limits.update(call.db, project_id, {k: int(val) for k, val in body.items()}, force=force)
    return {"quota_set": _shown(call, limits.limits(call.db, project_id))}


@router.delete("/v2.1/os-quota-sets/{project_id}")
def reset_quotas(call: Call):
    project_id = _project(call, "os_compute_api:os-quota-sets:update")
    limits.reset(call.db, project_id)
    return Reply(None, status=202)


@router.get("/v2.1/limits")
def show_limits(call: Call):
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:limits", {})
    project_id = call.query.get("tenant_id") if ctx.is_admin and call.query.get("tenant_id") else ctx.project_id
    quota = limits.limits(call.db, project_id or "")
    used = limits.in_use(call.db, project_id or "", ctx.user_id)
    absolute = {
        "maxServerMeta": quota["metadata_items"], "maxImageMeta": quota["metadata_items"],
        "maxPersonality": quota["injected_files"], "maxPersonalitySize": quota["injected_file_content_bytes"],
        "maxTotalKeypairs": quota["key_pairs"], "maxTotalInstances": quota["instances"],
        "maxTotalCores": quota["cores"], "maxTotalRAMSize": quota["ram"],
        "maxServerGroups": quota["server_groups"], "maxServerGroupMembers": quota["server_group_members"],
        "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"], "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"]}
    if at_least(call, 39):
        absolute.pop("maxImageMeta")
    if at_least(call, 57):
        del absolute["maxPersonality"], absolute["maxPersonalitySize"]
    if not at_least(call, 36):
        absolute.update(maxSecurityGroups=quota["security_groups"], maxSecurityGroupRules=quota["security_group_rules"],
                        maxTotalFloatingIps=quota["floating_ips"], totalSecurityGroupsUsed=0, totalFloatingIpsUsed=0)
    return {"limits": {"rate": [], "absolute": absolute}}
