"""Servers: create (intent only — the worker builds), show, list with Nova's filters, update, delete.

The API records what is wanted (``vm_state``/``task_state``) and sends a message to the
``compute.server`` worker after commit (``kumo.compute.manager`` carries it out).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute import flavors, instance_actions, keypairs, limits, network
from kumo.compute.models import BlockDeviceMapping, Server
from kumo.context import Context
from kumo.db import after_commit, utcnow
from kumo.db.pagination import paginate
from kumo.errors import BadRequest, Conflict, KumoError, NotFound

TOPIC = "compute.server"
AZ = "nova"
HOST = "kumo"
TRUSTED_CERTS = "trusted_image_certificates"  # a server's system_metadata key (2.63)
# Nova's BuildAbortException from a virt driver without ``supports_trusted_certs`` (this one)
TRUSTED_CERTS_UNSUPPORTED = ("Trusted image certificates provided on host that does not support certificate "
                             "validation.")

# vm_state → status, with task states that override it (Nova's nova/api/openstack/common.py).
_STATUS = {
    "active": {"default": "ACTIVE", "rebooting": "REBOOT", "reboot_pending": "REBOOT",
               "reboot_started": "REBOOT", "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT",
               "reboot_started_hard": "HARD_REBOOT", "rebuilding": "REBUILD", "rebuild_spawning": "REBUILD",
               "resize_prep": "RESIZE", "resize_migrating": "RESIZE", "resize_migrated": "RESIZE",
               "resize_finish": "RESIZE", "migrating": "MIGRATING"},
    "building": {"default": "BUILD"},
    "stopped": {"default": "SHUTOFF", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
                "resize_migrated": "RESIZE", "resize_finish": "RESIZE", "rebuilding": "REBUILD"},
    "resized": {"default": "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    "paused": {"default": "PAUSED", "migrating": "MIGRATING"},
    "suspended": {"default": "SUSPENDED"},
    "rescued": {"default": "RESCUE"},
    "error": {"default": "ERROR", "rebuilding": "REBUILD"},
    "deleted": {"default": "DELETED"},
    "soft-delete": {"default": "SOFT_DELETED"},
    "shelved": {"default": "SHELVED"},
    "shelved_offloaded": {"default": "SHELVED_OFFLOADED"},
}


def status(server: Server) -> str:
    states = _STATUS.get(server.vm_state, {"default": "UNKNOWN"})
    return states.get(server.task_state or "", states["default"])


def states_for_status(name: str) -> list[tuple[str, str | None]] | None:
    """(vm_state, task_state or None for "the default") pairs that show as status ``name``."""
    found = []
    for vm_state, tasks in _STATUS.items():
        for task, shown in tasks.items():
            if shown == name.upper():
                found.append((vm_state, None if task == "default" else task))
    return found or None


def host_id(server: Server) -> str:
    if not server.host:
        return ""
    return hashlib.sha224((server.project_id + server.host).encode()).hexdigest()


def hostname_for(name: str) -> str:
    """Nova's sanitised hostname: lowercase, [a-z0-9-], at most 63 characters."""
    text = re.sub(r"[ _.]", "-", name.lower())
    text = re.sub(r"[^\w-]+", "", text, flags=re.ASCII).strip("-")
    return text[:63].strip("-") or "server"


# -- create ---------------------------------------------------------------------------------------

@dataclass
class BootRequest:
    name: str
    image_ref: str
    flavor_ref: str
    networks: object = None  # "auto" | "none" | list of {"uuid"/"port"/"fixed_ip"} | None
    key_name: str | None = None
    admin_pass: str | None = None
    metadata: dict = field(default_factory=dict)
    user_data: str | None = None
    access_ipv4: str = ""
    access_ipv6: str = ""
    min_count: int = 1
    max_count: int = 1
    availability_zone: str | None = None
    security_groups: list = field(default_factory=list)
    block_devices: list = field(default_factory=list)  # block_device_mapping_v2 entries
    config_drive: bool = False
    description: str | None = None
    tags: list = field(default_factory=list)
    hostname: str | None = None
    group: str | None = None  # scheduler hint: the server group to join
    multiattach_ok: bool = False  # 2.60: multiattach volumes may be asked for (the build then refuses them)
    trusted_certs: list | None = None  # 2.63: kept; this driver cannot validate them (the build is aborted)


def _check_access_ip(value: str, version: int) -> str:
    if not value:
        return ""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise BadRequest(f"Invalid input for field/attribute accessIPv{version}. Value: {value}. "
                         f"'{value}' is not a 'ipv{version}'")
    return str(address)


def check_access_ips(v4: str | None, v6: str | None) -> tuple[str, str]:
    return _check_access_ip(v4 or "", 4), _check_access_ip(v6 or "", 6)


def check_user_data(user_data: str | None) -> None:
    if user_data is None:
        return
    try:
        base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("User data needs to be valid base 64.") from None


def _boot_volume(req: BootRequest) -> dict | None:
    """The boot-from-volume mapping, if any. An image mapped to local disk (what the CLI sends for a
    plain image boot) is the image to boot, as if given in imageRef."""
    for bdm in req.block_devices:
        if str(bdm.get("boot_index", "")) != "0":
            continue
        if bdm.get("source_type") == "image" and bdm.get("destination_type", "local") == "local":
            if bdm.get("volume_type"):
                raise BadRequest("Specifying a volume_type with destination_type=local is not supported.")
            req.image_ref = req.image_ref or bdm.get("uuid", "")
            return None
        return bdm
    return None


def resolve_image(cloud, db: Session, image_ref: str, project_id: str):
    from kumo.image import internal as images

    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        uuid.UUID(image_id)
    except ValueError:
        raise BadRequest("Invalid imageRef provided.") from None
    try:
        return images.boot_image(cloud, db, image_id, project_id)
    except NotFound:
        raise BadRequest(f"Image {image_id} could not be found.") from None
    except KumoError as exc:
        raise BadRequest(f"Image {image_id} is not active.") if exc.status == 409 else exc from None


def create(cloud, db: Session, ctx: Context, req: BootRequest) -> tuple[list[Server], str]:
    """Record the servers (BUILD/scheduling) and reserve their quota; returns them and the reservation id."""
    project_id, user_id = ctx.project_id, ctx.user_id
    if not project_id:
        raise BadRequest("A project-scoped token is needed to create a server.")
    flavor_id = req.flavor_ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = flavors.get(db, flavor_id, project_id, ctx.is_admin)
    except NotFound:
        raise BadRequest(f"Flavor {flavor_id} could not be found.") from None
    if flavor.disabled:
        raise BadRequest(f"Flavor {flavor_id} is disabled.")
    boot_volume = _boot_volume(req)
    image_id = ""
    if req.trusted_certs and not req.image_ref:
        raise BadRequest("Image certificate validation is not supported when booting from volume")
    if req.image_ref or boot_volume is None:
        if not req.image_ref:
            raise BadRequest("Missing imageRef attribute")
        image = resolve_image(cloud, db, req.image_ref, project_id)
        image_id = image.id
        if boot_volume is None:
            if image.min_ram and flavor.ram < image.min_ram:
                raise BadRequest("Flavor's memory is too small for requested image.")
            if flavor.disk and (image.min_disk > flavor.disk or (image.size or 0) > flavor.disk * 1024 ** 3):
                raise BadRequest("Flavor's disk is too small for requested image.")
    if req.availability_zone not in (None, "", AZ) and not req.availability_zone.startswith(AZ + ":"):
        raise BadRequest("The requested availability zone is not available")
    check_user_data(req.user_data)
    access_v4, access_v6 = check_access_ips(req.access_ipv4, req.access_ipv6)
    if req.metadata:
        limits.check_metadata(db, project_id, req.metadata)
    key_data = None
    if req.key_name:
        try:
            key_data = keypairs.get(db, user_id, req.key_name).public_key
        except NotFound:
            raise BadRequest("Invalid key_name provided.") from None
    if req.min_count > req.max_count:
        raise BadRequest("min_count must be <= max_count")
    if req.max_count > 1 and boot_volume is not None:
        raise BadRequest("Cannot attach one or more volumes to multiple instances")
    count = _reserve(db, project_id, flavor, req.min_count, req.max_count)

    reservation = "r-" + uuid.uuid4().hex[:8]
    security_groups = [g.get("name") for g in req.security_groups if g.get("name")] or ["default"]
    now = utcnow()
    created = []
    for index in range(count):
        name = req.name if count == 1 else f"{req.name}-{index + 1}"
        server = Server(id=str(uuid.uuid4()), name=name, hostname=req.hostname or hostname_for(name),
                        description=req.description, project_id=project_id, user_id=user_id, image_id=image_id,
                        flavor_id=flavor.id, flavor=flavors.snapshot(flavor), key_name=req.key_name,
                        key_data=key_data, admin_pass=req.admin_pass, user_data=req.user_data,
                        metadata_=dict(req.metadata), tags=list(req.tags), security_groups=security_groups,
                        networks=req.networks if isinstance(req.networks, list) else [req.networks or "auto"],
                        access_ipv4=access_v4, access_ipv6=access_v6, availability_zone=AZ,
                        config_drive="True" if req.config_drive else "", vm_state="building",
                        task_state="scheduling", power_state=0, reservation_id=reservation, launch_index=index,
                        system_metadata={TRUSTED_CERTS: list(req.trusted_certs)} if req.trusted_certs else {},
                        created_at=now, updated_at=now)
        db.add(server)
        created.append(server)
    db.flush()
    if req.group:
        from kumo.compute import server_groups

        server_groups.add_members(db, ctx, req.group, created)
    for server in created:
        network.allocate(db, ctx, server_id=server.id, project_id=project_id, requested=req.networks,
                         security_groups=security_groups)
    if boot_volume is not None:
        _map_boot_volume(cloud, db, created[0], boot_volume, project_id, req.multiattach_ok)
    for server in created:
        instance_actions.record(db, server.id, "create", ctx.request_id, project_id, user_id)
        submit(cloud, db, server.id)
    return created, reservation


def _reserve(db: Session, project_id: str, flavor, min_count: int, max_count: int) -> int:
    """Reserve quota for as many servers as fit between min_count and max_count (Nova's behaviour);
    when not even min_count fit, the error names what ran out for min_count."""
    count = min_count
    if max_count > min_count:  # as many as fit, and at least min_count (then failing on what ran out)
        count = max(min(max_count, limits.headroom(db, project_id, flavor.vcpus, flavor.ram)), min_count)
    limits.reserve(db, project_id, count, flavor.vcpus * count, flavor.ram * count)
    return count


def _map_boot_volume(cloud, db: Session, server: Server, bdm: dict, project_id: str,
                     multiattach_ok: bool = False) -> None:
    from kumo.compute import attachments
    from kumo.volume import internal as volumes

    source, state = bdm.get("source_type", "volume"), "attaching"
    if bdm.get("volume_type") and source == "volume":  # 2.67
        raise BadRequest("Specifying volume type to existing volume is not supported.")
    if source == "volume":
        volume_id = bdm.get("uuid") or bdm.get("volume_id")
        if not volume_id:
            raise BadRequest("Missing volume id in block_device_mapping_v2.")
        if volumes.multiattach(db, [volume_id]) and not multiattach_ok:
            raise BadRequest(attachments.MULTIATTACH_OLD)
        try:
            volumes.reserve_for_attach(db, volume_id, project_id)
        except NotFound:
            raise BadRequest(f"Block Device Mapping is Invalid: failed to get volume {volume_id}.") from None
    elif source == "image" and bdm.get("destination_type") == "volume":
        size = int(bdm.get("volume_size") or server.flavor.get("disk") or 1)
        try:
            volume_id = volumes.create_from_image(cloud, db, project_id=project_id, image_id=bdm.get("uuid"),
                                                  size_gb=size, name=f"{server.name}-root",
                                                  volume_type=bdm.get("volume_type") or None)
        except NotFound as err:
            if "Volume type" not in err.message:
                raise
            raise BadRequest(err.message) from None
        state = "creating"  # the worker reserves it once the volume service has filled it
    else:
        raise BadRequest("Block Device Mapping is Invalid: only volumes can be booted from.")
    db.add(BlockDeviceMapping(id=str(uuid.uuid4()), server_id=server.id, volume_id=volume_id, device="/dev/vda",
                            state=state, boot_index=0,
                            delete_on_termination=bool(bdm.get("delete_on_termination", False)),
                            tag=bdm.get("tag") or None))
    db.flush()


def submit(cloud, db: Session, server_id: str) -> None:
    after_commit(db, lambda: cloud.workers.submit(TOPIC, server_id))



# -- read -----------------------------------------------------------------------------------------

def get(db: Session, server_id: str, project_id: str | None = None, *, for_update: bool = False) -> Server:
    """The server, or 404 — also when it belongs to another project (``project_id`` given)."""
    server = db.get(Server, server_id, with_for_update=for_update) if len(server_id) <= 64 else None
    if server is None or (project_id is not None and server.project_id != project_id):
        raise NotFound(f"Instance {server_id} could not be found.")
    return server


SORT_COLUMNS = {"created_at": Server.created_at, "updated_at": Server.updated_at, "display_name": Server.name,
                "name": Server.name, "uuid": Server.id, "id": Server.id, "vm_state": Server.vm_state,
                "task_state": Server.task_state, "power_state": Server.power_state, "host": Server.host,
                "image_ref": Server.image_id, "instance_type_id": Server.flavor_id, "launched_at": Server.launched_at,
                "project_id": Server.project_id, "user_id": Server.user_id, "key_name": Server.key_name,
                "availability_zone": Server.availability_zone, "hostname": Server.hostname,
                "launch_index": Server.launch_index, "locked": Server.locked, "display_description": Server.description}


@dataclass
class ListQuery:
    project_id: str | None  # None: every project (admin, all_tenants)
    name: str | None = None
    status: str | None = None
    image: str | None = None
    flavor: str | None = None
    changes_since: datetime | None = None
    changes_before: datetime | None = None  # 2.66
    ip: str | None = None
    ip6: str | None = None
    reservation_id: str | None = None
    host: str | None = None
    locked: bool | None = None
    tags: list = field(default_factory=list)
    tags_any: list = field(default_factory=list)
    not_tags: list = field(default_factory=list)
    not_tags_any: list = field(default_factory=list)
    sort: list = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    # Nova's other filters (admins', and from 2.83 everyone's): column = value, and regexes matched here
    exact: dict = field(default_factory=dict)  # user_id, vm_state, task_state, power_state
    regex: dict = field(default_factory=dict)  # key_name, availability_zone, config_drive, progress, *_at


EXACT_FILTERS = {"user_id": Server.user_id, "vm_state": Server.vm_state, "task_state": Server.task_state,
                 "power_state": Server.power_state}
REGEX_FILTERS = {"key_name": lambda s: s.key_name, "availability_zone": lambda s: s.availability_zone,
                 "config_drive": lambda s: s.config_drive, "progress": lambda s: str(s.progress or 0),
                 "created_at": lambda s: _iso(s.created_at), "launched_at": lambda s: _iso(s.launched_at),
                 "terminated_at": lambda s: None}


def _iso(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%S") if when else None


def list_(db: Session, q: ListQuery) -> list[Server]:
    query = sa.select(Server)
    if q.project_id is not None:
        query = query.where(Server.project_id == q.project_id)
    if q.status:
        pairs = states_for_status(q.status)
        if pairs is None:
            return []
        clauses = []
        for vm_state, task in pairs:
            if task is None:
                overriding = [t for t in _STATUS[vm_state] if t != "default"]
                clauses.append(sa.and_(Server.vm_state == vm_state,
                                       sa.or_(Server.task_state.is_(None), Server.task_state.not_in(overriding))))
            else:
                clauses.append(sa.and_(Server.vm_state == vm_state, Server.task_state == task))
        query = query.where(sa.or_(*clauses))
    if q.image:
        query = query.where(Server.image_id == q.image.rstrip("/").rsplit("/", 1)[-1])
    if q.flavor:
        query = query.where(Server.flavor_id == q.flavor.rstrip("/").rsplit("/", 1)[-1])
    if q.changes_since is not None:
        query = query.where(Server.updated_at >= q.changes_since)
    if q.changes_before is not None:
        query = query.where(Server.updated_at <= q.changes_before)
    if q.reservation_id:
        query = query.where(Server.reservation_id == q.reservation_id)
    if q.host:
        query = query.where(Server.host == q.host)
    if q.locked is not None:
        query = query.where(Server.locked.is_(q.locked))
    for key, value in q.exact.items():
        if key == "power_state":
            if not str(value).isdigit():
                return []
            value = int(value)
        query = query.where(EXACT_FILTERS[key] == value)
    marker_error = BadRequest(f"marker [{q.marker}] not found") if q.marker else None
    sort = q.sort or [("created_at", True)]
    python_side = bool(q.name or q.ip or q.ip6 or q.tags or q.tags_any or q.not_tags or q.not_tags_any or q.regex)
    rows = paginate(db, query, Server, SORT_COLUMNS, sort, None if python_side else q.limit, q.marker,
                    marker_error)
    if not python_side:
        return rows
    addresses = network.addresses(db, [s.id for s in rows]) if q.ip or q.ip6 else {}
    # regexes and JSON columns are matched here, portably
    found = []
    for server in rows:
        if q.name and not _search(q.name, server.name):
            continue
        if any(REGEX_FILTERS[key](server) is None or not _search(pattern, REGEX_FILTERS[key](server))
               for key, pattern in q.regex.items()):
            continue
        if q.ip and not any(_search(q.ip, a["addr"]) for a in _addresses(addresses, server, 4)):
            continue
        if q.ip6 and not any(_search(q.ip6, a["addr"]) for a in _addresses(addresses, server, 6)):
            continue
        tags = set(server.tags or [])
        if q.tags and not set(q.tags) <= tags:
            continue
        if q.tags_any and not tags & set(q.tags_any):
            continue
        if q.not_tags and set(q.not_tags) <= tags:
            continue
        if q.not_tags_any and tags & set(q.not_tags_any):
            continue
        found.append(server)
        if q.limit is not None and len(found) >= q.limit:
            break
    return found


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text or "") is not None
    except re.error:
        return pattern in (text or "")


def _addresses(found: dict, server: Server, version: int) -> list[dict]:
    return [a for addrs in found.get(server.id, {}).values() for a in addrs if a.get("version") == version]


def attachments(db: Session, server_id: str) -> list[BlockDeviceMapping]:
    return list(db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id)
                           .order_by(BlockDeviceMapping.created_at, BlockDeviceMapping.id)))


def attachments_of(db: Session, server_ids: list[str]) -> dict[str, list[BlockDeviceMapping]]:
    found: dict[str, list[BlockDeviceMapping]] = {sid: [] for sid in server_ids}
    if server_ids:
        for row in db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id.in_(server_ids))
                              .order_by(BlockDeviceMapping.created_at)):
            found[row.server_id].append(row)
    return found


# -- update and delete ----------------------------------------------------------------------------

def update(db: Session, server: Server, *, name: str | None = None, access_ipv4: str | None = None,
           access_ipv6: str | None = None, description: object = ..., hostname: str | None = None) -> Server:
    if name is not None:
        server.name = name
    if access_ipv4 is not None:
        server.access_ipv4 = _check_access_ip(access_ipv4, 4)
    if access_ipv6 is not None:
        server.access_ipv6 = _check_access_ip(access_ipv6, 6)
    if description is not ...:
        server.description = description
    if hostname is not None:
        server.hostname = hostname
    server.updated_at = utcnow()
    db.flush()
    return server


def check_unlocked(server: Server, ctx: Context) -> None:
    if server.locked and not ctx.is_admin:
        raise Conflict(f"Instance {server.id} is locked")


def delete(cloud, db: Session, ctx: Context, server: Server) -> None:
    """Mark for deletion (task_state deleting); the worker destroys the instance and removes the row."""
    check_unlocked(server, ctx)
    if server.task_state == "deleting":
        return
    server.task_state = "deleting"
    server.updated_at = utcnow()
    instance_actions.finish_all(db, server.id)
    instance_actions.record(db, server.id, "delete", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id)
    db.flush()
    submit(cloud, db, server.id)
