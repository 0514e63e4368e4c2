"""``/v2.0/quotas``: Neutron's per-project limits (``quotas``), with usage (``quota_details``) and
``check_limit`` on update (``quota-check-limit``)."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.db.filters import as_bool
from kumo.errors import BadRequest
from kumo.network import quotas
from kumo.network.http.common import body_for_update, deleted, router
from kumo.network.policies import policy


def _readable(call: Call) -> str:
    project_id = call.params["project_id"]
    policy.enforce(call.ctx, "get", {"project_id": project_id})
    return project_id


@router.get("/v2.0/quotas")
def list_quotas(call: Call):
    policy.enforce(call.ctx, "admin_only")
    return {"quotas": [{**quotas.limits(call.db, pid), "project_id": pid, "tenant_id": pid}
                       for pid in quotas.projects_with_limits(call.db)]}


@router.get("/v2.0/quotas/{project_id}")
def show_quota(call: Call):
    return {"quota": quotas.limits(call.db, _readable(call))}


@router.get("/v2.0/quotas/{project_id}/default")
def show_default_quota(call: Call):
    _readable(call)
    return {"quota": quotas.defaults(call.db)}


@router.get("/v2.0/quotas/{project_id}/details")
def show_quota_details(call: Call):
    return {"quota": quotas.details(call.db, _readable(call))}


@router.put("/v2.0/quotas/{project_id}")
def update_quota(call: Call):
    values = dict(body_for_update(call, "quota"))
    policy.enforce(call.ctx, "admin_only")
    force, check_limit = values.pop("force", False), values.pop("check_limit", False)
    try:
        force, check_limit = as_bool(force), as_bool(check_limit)
    except (TypeError, ValueError):
        raise BadRequest("Invalid input: 'force' and 'check_limit' must be booleans.", kind="InvalidInput") from None
    if force and check_limit:
        raise BadRequest("Invalid input: 'force' and 'check_limit' are mutually exclusive.", kind="InvalidInput")
    project_id = call.params["project_id"]
    quotas.update(call.db, project_id, values, check_limit=check_limit)
    return {"quota": quotas.limits(call.db, project_id)}


@router.delete("/v2.0/quotas/{project_id}")
def reset_quota(call: Call):
    policy.enforce(call.ctx, "admin_only")
    quotas.reset(call.db, call.params["project_id"])
    return deleted()
