"""Glance's default policies (secure RBAC), as rules over the caller and the image.

Targets carry ``project_id`` (the image's owner), ``member_id`` (the project an
image member names) and ``visibility``. Whether an image can be seen at all is
decided before policy (an invisible image is a 404, never a 403): see
``kumo.image.images.visible``.
"""

from kumo.policy import Policy, admin, any_of, project_member, project_reader, role


def _public_or_shared_to_caller(ctx, target) -> bool:
    """Images the caller may read without owning them (``visible`` already checked membership)."""
    return target.get("visibility") in ("public", "community", "shared")


READER = role("reader")
OWNER_MEMBER = any_of(admin, project_member("project_id"))
OWNER_READER = any_of(admin, project_reader("project_id"))
VISIBLE_READER = any_of(admin, project_reader("project_id"), _public_or_shared_to_caller)
MEMBER_OF_MEMBER = any_of(admin, project_member("member_id"))

policy = Policy({
    "image:get_images": any_of(admin, READER),
    "image:get_image": VISIBLE_READER,
    "image:add_image": OWNER_MEMBER,
    "image:modify_image": OWNER_MEMBER,
    "image:delete_image": OWNER_MEMBER,
    "image:publicize_image": admin,
    "image:communitize_image": OWNER_MEMBER,
    "image:upload_image": OWNER_MEMBER,
    "image:download_image": VISIBLE_READER,
    # Glance's secure-RBAC default (Tempest deactivates as the owner): admin or a member of the owner
    "image:deactivate": OWNER_MEMBER,
    "image:reactivate": OWNER_MEMBER,
    "image:set_owner": admin,
    "image:get_members": any_of(admin, project_reader("project_id"), project_reader("member_id")),
    "image:get_member": any_of(admin, project_reader("project_id"), project_reader("member_id")),
    "image:add_member": OWNER_MEMBER,
    "image:delete_member": OWNER_MEMBER,
    "image:modify_member": MEMBER_OF_MEMBER,
})
