"""``/v3/role_assignments``: who holds which role where, directly or in effect."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.identity import assignments, projects
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, router
from kumo.identity.policies import policy

INHERITED_TO = "scope.OS-INHERIT:inherited_to"


def _flag(call: Call, name: str) -> bool:
    """Keystone's boolean query parameters: present and not "0" is true (``?effective`` alone too)."""
    return name in call.query and call.query.get(name) != "0"


@router.get("/v3/role_assignments")
def list_role_assignments(call: Call):
    query, ctx = call.query, call.ctx
    include_subtree = _flag(call, "include_subtree")
    project_id = query.get("scope.project.id") or None
    if include_subtree and project_id:
        target = {"domain_id": projects.get(call.db, project_id).domain_id}
    else:
        target = {"domain_id": ctx.domain_id} if ctx.domain_id else {}
    policy.enforce(ctx, "identity:list_role_assignments", target)
    found = assignments.list_assignments(
        call.db, role_id=query.get("role.id") or None, user_id=query.get("user.id") or None,
        group_id=query.get("group.id") or None, system=query.get("scope.system") or None,
        domain_id=query.get("scope.domain.id") or None, project_id=project_id, include_subtree=include_subtree,
        inherited=query.get(INHERITED_TO) == "projects" if INHERITED_TO in query else None,
        effective=_flag(call, "effective"))
    if ctx.domain_id and not include_subtree:  # a domain-scoped caller sees its own domain
        found = assignments.in_domain(call.db, found, ctx.domain_id)
    if _flag(call, "include_names"):
        found = assignments.with_names(call.db, found)
    return {"role_assignments": [render.role_assignment(call, a) for a in found], "links": collection_links(call)}
