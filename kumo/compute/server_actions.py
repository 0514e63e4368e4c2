"""``POST /servers/{id}/action``: each action checks the state it may start from, records the intent
(a task_state) and an instance action, and leaves the work to the ``compute.server`` worker."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kumo.compute import flavors, instance_actions, limits, network, servers
from kumo.compute.models import Server
from kumo.context import Context
from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, NotFound

# action → (vm_states it may start from, task_state it sets, instance-action name)
TRANSITIONS = {
    "stop": (("active", "error", "resized", "paused", "suspended", "rescued"), "powering-off", "stop"),
    "start": (("stopped",), "powering-on", "start"),
    "reboot": (("active", "stopped", "paused", "suspended", "error"), "rebooting", "reboot"),
    "reboot_hard": (("active", "stopped", "paused", "suspended", "error"), "rebooting_hard", "reboot"),
    "pause": (("active",), "pausing", "pause"),
    "unpause": (("paused",), "unpausing", "unpause"),
    "suspend": (("active",), "suspending", "suspend"),
    "resume": (("suspended",), "resuming", "resume"),
    "rebuild": (("active", "stopped", "error"), "rebuilding", "rebuild"),
    "resize": (("active", "stopped"), "resize_prep", "resize"),
    "confirmResize": (("resized",), "resize_confirming", "confirmResize"),
    "revertResize": (("resized",), "resize_reverting", "revertResize"),
    "createImage": (("active", "stopped", "paused", "suspended"), "image_snapshot", "createImage"),
}


def _check_state(server: Server, action: str, label: str) -> None:
    allowed, _task, _name = TRANSITIONS[action]
    if server.task_state is not None and not (action == "reboot_hard" and server.task_state in (
            "rebooting", "reboot_pending", "reboot_started")):
        raise Conflict(f"Cannot '{label}' instance {server.id} while it is in task_state {server.task_state}")
    if server.vm_state not in allowed:
        raise Conflict(f"Cannot '{label}' instance {server.id} while it is in vm_state {server.vm_state}")


def begin(cloud, db: Session, ctx: Context, server: Server, action: str, label: str | None = None) -> None:
    """Move ``server`` into ``action``'s task state, or 409 if it may not start from where it is."""
    servers.check_unlocked(server, ctx)
    _check_state(server, action, label or action)
    _allowed, task, name = TRANSITIONS[action]
    server.system_metadata = {**(server.system_metadata or {}), "prior_vm_state": server.vm_state}
    server.task_state = task
    server.updated_at = utcnow()
    instance_actions.record(db, server.id, name, ctx.request_id, ctx.project_id or server.project_id, ctx.user_id)
    db.flush()
    servers.submit(cloud, db, server.id)


def reboot(cloud, db, ctx, server, kind: str) -> None:
    kind = (kind or "").upper()
    if kind not in ("SOFT", "HARD"):
        raise BadRequest("Argument 'type' for reboot must be a string with value 'SOFT' or 'HARD'")
    begin(cloud, db, ctx, server, "reboot_hard" if kind == "HARD" else "reboot", "reboot")


def rebuild(cloud, db, ctx, server, *, image_ref: str, name: str | None = None, metadata: dict | None = None,
            admin_pass: str | None = None, access_ipv4: str | None = None, access_ipv6: str | None = None,
            key_name: object = ..., user_data: object = ..., description: object = ...,
            trusted_certs: object = ...) -> None:
    """``trusted_certs`` (2.63): a list sets them, None unsets them, ``...`` keeps them."""
    servers.check_unlocked(server, ctx)
    _check_state(server, "rebuild", "rebuild")
    if trusted_certs and not server.image_id:
        raise BadRequest("Image certificate validation is not supported for volume-backed servers.")
    image = servers.resolve_image(cloud, db, image_ref, server.project_id)
    if metadata is not None:
        limits.check_metadata(db, server.project_id, metadata)
        server.metadata_ = dict(metadata)
    if name is not None:
        server.name = name
    if access_ipv4 is not None or access_ipv6 is not None:
        v4, v6 = servers.check_access_ips(access_ipv4, access_ipv6)
        if access_ipv4 is not None:
            server.access_ipv4 = v4
        if access_ipv6 is not None:
            server.access_ipv6 = v6
    if key_name is not ...:
        if key_name is None:
            server.key_name = server.key_data = None
        else:
            from kumo.compute import keypairs
            try:
                server.key_data = keypairs.get(db, ctx.user_id, key_name).public_key
            except NotFound:
                raise BadRequest("Invalid key_name provided.") from None
            server.key_name = key_name
    if user_data is not ...:
        servers.check_user_data(user_data)
        server.user_data = user_data
    if description is not ...:
        server.description = description
    if trusted_certs is not ...:
        meta = {k: val for k, val in (server.system_metadata or {}).items() if k != servers.TRUSTED_CERTS}
        server.system_metadata = {**meta, **({servers.TRUSTED_CERTS: list(trusted_certs)} if trusted_certs else {})}
    server.image_id = image.id
    if admin_pass is not None:
        server.admin_pass = admin_pass
    begin(cloud, db, ctx, server, "rebuild")


def resize(cloud, db, ctx, server, flavor_ref: str) -> None:
    servers.check_unlocked(server, ctx)
    _check_state(server, "resize", "resize")
    flavor_id = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = flavors.get(db, flavor_id, server.project_id, ctx.is_admin)
    except NotFound:
        raise BadRequest(f"Flavor {flavor_id} could not be found.") from None
    if flavor.id == server.flavor_id:
        raise BadRequest("When resizing, instances must change flavor!")
    if flavor.disk and server.flavor.get("disk", 0) > flavor.disk and server.image_id:
        raise BadRequest("Resize error: Unable to resize disk down.")
    old = server.flavor
    limits.reserve(db, server.project_id, 0, max(flavor.vcpus - old["vcpus"], 0), max(flavor.ram - old["ram"], 0))
    server.old_flavor = old
    server.flavor = flavors.snapshot(flavor)
    server.flavor_id = flavor.id
    begin(cloud, db, ctx, server, "resize")


def create_image(cloud, db, ctx, server, name: str, metadata: dict) -> str:
    """Queue an image (in the image service, in this transaction) that the worker fills from a snapshot."""
    from kumo.image import internal as images

    servers.check_unlocked(server, ctx)
    _check_state(server, "createImage", "createImage")
    properties = {"instance_uuid": server.id, "image_type": "snapshot", "user_id": ctx.user_id or ""}
    if server.image_id:
        properties["base_image_ref"] = server.image_id
    properties.update({k: str(v) for k, v in (metadata or {}).items()})
    image_id = images.create_image(cloud, db, owner=server.project_id, name=name, disk_format="raw",
                                   container_format="bare", properties=properties)
    server.system_metadata = {**(server.system_metadata or {}), "snapshot_image_id": image_id}
    begin(cloud, db, ctx, server, "createImage")
    return image_id


def lock(db, ctx, server, reason: str | None = None) -> None:
    server.locked = True
    server.locked_by = "admin" if ctx.is_admin and ctx.project_id != server.project_id else "owner"
    server.locked_reason = reason
    server.updated_at = utcnow()
    instance_actions.record(db, server.id, "lock", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id, finished=True)


def unlock(db, ctx, server) -> None:
    if server.locked and server.locked_by == "admin" and not ctx.is_admin:
        raise Conflict(f"Instance {server.id} is locked")  # only an admin lifts an admin's lock
    server.locked = False
    server.locked_by = server.locked_reason = None
    server.updated_at = utcnow()
    instance_actions.record(db, server.id, "unlock", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id, finished=True)


def _apply_groups(db, server, names: list[str]) -> None:
    server.security_groups = names
    server.updated_at = utcnow()
    network.set_port_security_groups(db, server.id, network.security_group_ids(db, server.project_id, names))


def add_security_group(db, ctx, server, name: str) -> None:
    servers.check_unlocked(server, ctx)
    try:
        network.security_group_ids(db, server.project_id, [name])
    except BadRequest:
        raise NotFound(f"Security group {name} not found for project {server.project_id}.") from None
    if name in server.security_groups:
        raise BadRequest(f"Security group {name} is already associated with the instance {server.id}")
    _apply_groups(db, server, [*server.security_groups, name])


def remove_security_group(db, ctx, server, name: str) -> None:
    servers.check_unlocked(server, ctx)
    if name not in server.security_groups:
        raise NotFound(f"Security group {name} not associated with the instance {server.id}")
    _apply_groups(db, server, [g for g in server.security_groups if g != name])


def console_output(cloud, server, length: int | None) -> str:
    if server.vm_state in ("building",) or server.task_state == "deleting":
        raise Conflict(f"Instance {server.id} is not ready")
    from kumo.compute.manager import driver_of

    try:
        return driver_of(cloud).console_output(server.id, length)
    except Exception:  # noqa: BLE001 — the driver has no such instance (yet)
        raise Conflict(f"Instance {server.id} is not ready") from None
