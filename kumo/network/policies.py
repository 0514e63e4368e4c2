"""Neutron's default policies: admins do anything; a project's members manage what their project owns;
readers read it; shared and external networks (and their subnets) are visible to every project."""

from kumo.policy import Policy, admin, any_of, project_member, project_reader, role

OWNER_MEMBER = any_of(admin, project_member("project_id"))
OWNER_READER = any_of(admin, project_reader("project_id"), project_member("project_id"))
SHARED_READER = any_of(OWNER_READER, lambda ctx, t: bool(t.get("shared") or t.get("external")))

policy = Policy({
    "create": any_of(admin, role("member")),
    "get": OWNER_READER,
    "get_shared": SHARED_READER,
    "update": OWNER_MEMBER,
    "delete": OWNER_MEMBER,
    "admin_only": admin,  # provider attributes, router:external, shared, bindings, other projects' ids
})
