"""Cinder's default policies: admins do anything; a project's members manage its volumes, snapshots
and their metadata; readers read them; types, quotas of others and status resets are admin's."""

from kumo.policy import Policy, admin, any_of, project_member, project_reader

MEMBER = any_of(admin, project_member("project_id"))
READER = any_of(admin, project_reader("project_id"), project_member("project_id"))

policy = Policy({
    "volume:create": MEMBER,
    "volume:get": READER,
    "volume:get_all": READER,
    "volume:update": MEMBER,
    "volume:delete": MEMBER,
    "volume:metadata": MEMBER,
    "volume:get_metadata": READER,
    "volume:action": MEMBER,  # bootable, readonly, extend, attach family, upload to image
    "volume:admin_action": admin,  # os-reset_status, os-force_delete, os-force_detach
    "volume:all_tenants": admin,
    "snapshot:create": MEMBER,
    "snapshot:get": READER,
    "snapshot:update": MEMBER,
    "snapshot:delete": MEMBER,
    "snapshot:metadata": MEMBER,
    "attachment:create": MEMBER,
    "attachment:get": READER,
    "attachment:update": MEMBER,
    "attachment:complete": MEMBER,
    "attachment:delete": MEMBER,
    "type:get": READER,
    "type:manage": admin,
    "default_type:manage": admin,
    "quota:get": any_of(admin, project_reader("project_id"), project_member("project_id")),
    "quota:update": admin,
    "limits:get": READER,
})
