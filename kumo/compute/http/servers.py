"""``/v2.1/servers``: create, list (brief and detail, Nova's filters), show, update, delete, ips."""

from __future__ import annotations

import secrets

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import network, server_groups, servers
from kumo.compute.http import render
from kumo.compute.http.common import (
    at_least,
    base,
    find_server,
    int_query,
    next_link,
    only_between,
    router,
    time_window,
)
from kumo.compute.manager import driver_of
from kumo.compute.policies import policy
from kumo.errors import BadRequest, Forbidden, NotFound

# Nova's "name" format: no leading or trailing whitespace, no control characters
NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[^\x00-\x1f\x7f]*(?<![\s])$"}
METADATA = {"type": "object", "patternProperties": {
    "^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}}, "additionalProperties": False}
UUID = {"type": "string", "pattern": r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                                     r"[0-9a-fA-F]{12}$"}
COUNT = {"type": ["integer", "string"], "pattern": r"^[0-9]*$", "minimum": 1}
ACCESS_IP = {"type": "string"}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
TRUSTED_CERTS = {"type": ["array", "null"], "minItems": 1, "maxItems": 50, "uniqueItems": True,
                 "items": {"type": "string", "minLength": 1}}
BDM = {"type": "object", "properties": {
    "boot_index": {"type": ["integer", "string", "null"]}, "uuid": {"type": "string"},
    "source_type": {"enum": ["volume", "image", "snapshot", "blank"]},
    "destination_type": {"enum": ["volume", "local"]}, "volume_size": {"type": ["integer", "string", "null"]},
    "delete_on_termination": {"type": ["boolean", "string"]}, "device_name": {"type": ["string", "null"]},
    "volume_id": {"type": "string"}, "tag": {"type": "string"},
    "volume_type": {"type": ["string", "null"], "maxLength": 255}}}
HINTS = {"type": "object", "properties": {"group": {"oneOf": [UUID, {
    "type": "array", "minItems": 1, "maxItems": 1, "items": UUID}]}}}
CREATE = {"type": "object", "required": ["server"], "properties": {"server": {
    "type": "object", "required": ["name", "flavorRef"], "additionalProperties": False,
    "properties": {
        "name": NAME, "imageRef": {"type": "string"},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "adminPass": {"type": "string"}, "metadata": METADATA,
        "networks": {"oneOf": [
            {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
                "fixed_ip": {"type": "string"}, "port": {"oneOf": [UUID, {"type": "null"}]}, "uuid": UUID,
                "tag": {"type": "string"}}}},
            {"type": "string", "enum": ["none", "auto"]}]},
        "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "user_data": {"type": "string", "maxLength": 65535},
        "accessIPv4": ACCESS_IP, "accessIPv6": ACCESS_IP,
        "min_count": COUNT, "max_count": COUNT, "return_reservation_id": {"type": ["boolean", "string"]},
        "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
        "security_groups": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255}}, "additionalProperties": False}},
        "block_device_mapping_v2": {"type": "array", "items": BDM},
        "block_device_mapping": {"type": "array"},
        "config_drive": {"type": ["boolean", "string"]},
        "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        "personality": {"type": "array"},
        "description": {"type": ["string", "null"], "maxLength": 255},
        "tags": {"type": "array", "items": TAG, "maxItems": 50},
        "trusted_image_certificates": TRUSTED_CERTS,
        "host": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9-._]*$"},
        "hypervisor_hostname": {"type": "string", "minLength": 1, "maxLength": 255,
                                "pattern": r"^[a-zA-Z0-9-._]*$"},
    }}, "os:scheduler_hints": HINTS, "OS-SCH-HNT:scheduler_hints": HINTS}}
UPDATE = {"type": "object", "required": ["server"], "properties": {"server": {
    "type": "object", "additionalProperties": False, "properties": {
        "name": NAME, "accessIPv4": ACCESS_IP, "accessIPv6": ACCESS_IP,
        "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        "description": {"type": ["string", "null"], "maxLength": 255}}}}}


def _bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def _count(body: dict, key: str) -> int:
    value = body.get(key, 1)
    if value in ("", None):
        return 1
    number = int(value)
    if number < 1:
        raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}. {value} is less than the "
                         "minimum of 1")
    return number


def _group_hint(body: dict) -> str | None:
    group = (body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}).get("group")
    return group[0] if isinstance(group, list) else group


@router.post("/v2.1/servers")
def create_server(call: Call):
    body = v.check(call.body, CREATE)["server"]
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:servers:create", {"project_id": ctx.project_id})
    only_between(call, body, "description", "server", 19)
    only_between(call, body, "tags", "server", 52)
    only_between(call, body, "personality", "server", last=56)
    only_between(call, body, "trusted_image_certificates", "server", 63)
    for bdm in body.get("block_device_mapping_v2", []):
        only_between(call, bdm, "volume_type", "block_device_mapping_v2", 67)
    _requested_destination(call, body)
    if at_least(call, 37) and "networks" not in body:
        raise BadRequest("Invalid input for field/attribute server. 'networks' is a required property")
    admin_pass = body.get("adminPass") or secrets.token_urlsafe(9)
    request = servers.BootRequest(
        name=body["name"], image_ref=body.get("imageRef", ""), flavor_ref=str(body["flavorRef"]),
        networks=body.get("networks"), key_name=body.get("key_name"), admin_pass=admin_pass,
        metadata=body.get("metadata", {}), user_data=body.get("user_data"),
        access_ipv4=body.get("accessIPv4", ""), access_ipv6=body.get("accessIPv6", ""),
        min_count=_count(body, "min_count"), max_count=_count(body, "max_count") if "max_count" in body
        else _count(body, "min_count"), availability_zone=body.get("availability_zone"),
        security_groups=body.get("security_groups", []), block_devices=body.get("block_device_mapping_v2", []),
        config_drive=_bool(body.get("config_drive", False)), description=body.get("description"),
        tags=list(dict.fromkeys(body.get("tags", []))), multiattach_ok=at_least(call, 60),
        trusted_certs=body.get("trusted_image_certificates"), group=_group_hint(call.body))
    created, reservation = servers.create(call.cloud, call.db, ctx, request)
    if _bool(body.get("return_reservation_id", False)):
        return Reply({"reservation_id": reservation}, status=202)
    first = created[0]
    shown = {"id": first.id, "links": render.links(call, "servers", first.id), "OS-DCF:diskConfig": "MANUAL",
             "security_groups": [{"name": g} for g in first.security_groups], "adminPass": admin_pass}
    return Reply({"server": shown}, status=202,
                 headers={"Location": f"{base(call)}/v2.1/servers/{first.id}"})


def _requested_destination(call: Call, body: dict) -> None:
    """2.74: an admin may name the host (and node) to build on; with one host, only that one is there."""
    only_between(call, body, "host", "server", 74)
    only_between(call, body, "hypervisor_hostname", "server", 74)
    if "host" not in body and "hypervisor_hostname" not in body:
        return
    policy.enforce(call.ctx, "compute:servers:create:requested_destination", {})
    if body.get("host", servers.HOST) != servers.HOST:
        raise BadRequest(f"Compute host {body['host']} could not be found.")
    node = body.get("hypervisor_hostname")
    if node is not None and node not in (servers.HOST, driver_of(call.cloud).host_info()["hypervisor_hostname"]):
        raise BadRequest(f"Compute host node {node} could not be found.")


def _locked_filter(call: Call) -> bool | None:
    """2.73: ``locked`` (a strict boolean); before it, ignored as any unknown filter."""
    value = call.query.get("locked")
    if value is None or not at_least(call, 73):
        return None
    if value.lower() in ("true", "1", "yes", "on", "t", "y"):
        return True
    if value.lower() in ("false", "0", "no", "off", "f", "n"):
        return False
    raise BadRequest(f"Unrecognized value '{value}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', "
                     "'off', 'on', 't', 'true', 'y', 'yes'")


# 2.75: the query parameters Nova's server list knows (its filters, sorts, paging); any other is a 400
LIST_PARAMS = frozenset((
    "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id", "ramdisk_id",
    "hostname", "key_name", "power_state", "vm_state", "task_state", "host", "node", "flavor", "reservation_id",
    "launched_at", "terminated_at", "availability_zone", "name", "display_name", "description",
    "display_description", "locked_by", "uuid", "root_device_name", "config_drive", "access_ip_v4",
    "access_ip_v6", "auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants", "soft_deleted",
    "deleted", "status", "changes-since", "ip", "ip6", "created_at", "block_device_mapping", "services",
    "metadata", "system_metadata", "info_cache", "security_groups", "pci_devices", "limit", "marker",
    "tags", "tags-any", "not-tags", "not-tags-any", "changes-before", "locked"))
# sort keys Nova ignored before 2.75 and refuses from it
IGNORED_SORT_KEYS = frozenset((
    "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device", "deleted",
    "deleted_at", "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on",
    "memory_mb", "os_type", "reservation_id", "root_gb", "shutdown_terminate", "user_data", "vcpus", "vm_mode"))


def _strict_query(call: Call) -> None:
    """2.75: unknown query parameters (and the sort keys Nova used to ignore) are refused."""
    if not at_least(call, 75):
        return
    for key, value in call.query.multi_items():
        if key not in LIST_PARAMS and not key.startswith("_"):
            raise BadRequest(f"Invalid input for query parameters {key}. Value: {value}. Additional properties "
                             f"are not allowed ('{key}' was unexpected)")
        if key == "sort_key" and value in IGNORED_SORT_KEYS:
            raise BadRequest(f"Invalid input for query parameters sort_key. Value: {value}. '{value}' is not one "
                             "of the valid sort keys")


def _more_filters(call: Call) -> dict:
    """Nova's filters beyond the few every user has: an admin's, and from 2.83 everyone's."""
    if not (call.ctx.is_admin or at_least(call, 83)):
        return {}
    q = call.query
    return {"exact": {k: q[k] for k in servers.EXACT_FILTERS if q.get(k)},
            "regex": {k: q[k] for k in servers.REGEX_FILTERS if q.get(k)}}


def _list(call: Call, detail: bool):
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:servers:detail" if detail else "os_compute_api:servers:index", {})
    _strict_query(call)
    q = call.query
    project_id = ctx.project_id
    all_tenants = q.get("all_tenants")
    if all_tenants is not None and all_tenants.lower() not in ("0", "false", "off", "no"):
        policy.enforce(ctx, "os_compute_api:servers:index:get_all_tenants", {})
        project_id = q.get("project_id") or q.get("tenant_id") or None
    elif ctx.is_admin and (q.get("project_id") or q.get("tenant_id")):
        project_id = q.get("project_id") or q.get("tenant_id")
    if project_id is None and not (all_tenants and ctx.is_admin):
        raise Forbidden("A project-scoped token is needed to list servers.")
    sort_keys, sort_dirs = q.getlist("sort_key"), q.getlist("sort_dir")
    sort = []
    for i, key in enumerate(sort_keys):
        if key not in servers.SORT_COLUMNS:
            raise BadRequest(f"Invalid input for query parameters sort_key. Value: {key}.")
        direction = sort_dirs[i] if i < len(sort_dirs) else (sort_dirs[0] if sort_dirs else "desc")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid input for query parameters sort_dir. Value: {direction}.")
        sort.append((key, direction == "desc"))
    if at_least(call, 38) and q.get("status") and servers.states_for_status(q.get("status")) is None:
        raise BadRequest("Invalid status value")
    limit = int_query(call, "limit")
    since, before = time_window(call, 66)
    query = servers.ListQuery(
        project_id=project_id, name=q.get("name") or q.get("display_name"), status=q.get("status"),
        image=q.get("image"), flavor=q.get("flavor"), changes_since=since, changes_before=before,
        ip=q.get("ip"), ip6=q.get("ip6"), reservation_id=q.get("reservation_id"),
        host=q.get("host") if ctx.is_admin else None,
        locked=_locked_filter(call),
        tags=[t for t in (q.get("tags") or "").split(",") if t] if at_least(call, 26) else [],
        tags_any=[t for t in (q.get("tags-any") or "").split(",") if t] if at_least(call, 26) else [],
        not_tags=[t for t in (q.get("not-tags") or "").split(",") if t] if at_least(call, 26) else [],
        not_tags_any=[t for t in (q.get("not-tags-any") or "").split(",") if t] if at_least(call, 26) else [],
        sort=sort, limit=min(limit, 1000) if limit is not None else None, marker=q.get("marker"),
        **_more_filters(call))
    found = servers.list_(call.db, query)
    if detail:
        attached = servers.attachments_of(call.db, [s.id for s in found])
        found_addresses = network.addresses(call.db, [s.id for s in found])
        shown = [render.server(call, s, attached[s.id], found_addresses[s.id]) for s in found]
    else:
        shown = [render.server_brief(call, s) for s in found]
    body = {"servers": shown}
    if limit is not None and found and len(found) >= limit:
        body["servers_links"] = next_link(call, "servers/detail" if detail else "servers", found[-1].id)
    return body


@router.get("/v2.1/servers")
def list_servers(call: Call):
    return _list(call, detail=False)


@router.get("/v2.1/servers/detail")
def list_servers_detail(call: Call):
    return _list(call, detail=True)


@router.get("/v2.1/servers/{server_id}")
def show_server(call: Call):
    server = find_server(call, "os_compute_api:servers:show")
    return {"server": render.server(call, server, servers.attachments(call.db, server.id),
                                    addresses_of(call, server), groups=groups_of(call, server))}


def addresses_of(call: Call, server) -> dict:
    return network.addresses(call.db, [server.id])[server.id]


def groups_of(call: Call, server) -> list[str] | None:
    """2.71: the server's group (show, update, rebuild)."""
    return server_groups.of_server(call.db, server.id) if at_least(call, 71) else None


@router.put("/v2.1/servers/{server_id}")
def update_server(call: Call):
    body = v.check(call.body, UPDATE)["server"]
    if "description" in body and not at_least(call, 19):
        raise BadRequest("Invalid input for field/attribute server. Value: description. Additional properties "
                         "are not allowed ('description' was unexpected)")
    server = find_server(call, "os_compute_api:servers:update", write=True)
    servers.update(call.db, server, name=body.get("name"), access_ipv4=body.get("accessIPv4"),
                   access_ipv6=body.get("accessIPv6"),
                   description=body.get("description", ...))
    return {"server": shown_after_change(call, server)}


def shown_after_change(call: Call, server) -> dict:
    """Update's and rebuild's view: a shorter one, then from 2.75 the same as show's."""
    full = at_least(call, 75)
    return render.server(call, server, servers.attachments(call.db, server.id) if full else (),
                         addresses_of(call, server), detail=full, groups=groups_of(call, server))


@router.delete("/v2.1/servers/{server_id}")
def delete_server(call: Call):
    server = find_server(call, "os_compute_api:servers:delete", write=True)
    servers.delete(call.cloud, call.db, call.ctx, server)
    return Reply(None, status=204)


@router.get("/v2.1/servers/{server_id}/ips")
def list_ips(call: Call):
    server = find_server(call, "os_compute_api:ips:index")
    return {"addresses": render.addresses(addresses_of(call, server))}


@router.get("/v2.1/servers/{server_id}/topology")
def show_topology(call: Call):
    """2.78: the instance's NUMA topology; Kumo's instances have none (a cpuset, not NUMA cells), as a Nova
    instance whose flavor asks for no NUMA placement."""
    if not at_least(call, 78):
        raise NotFound("The resource could not be found.")
    find_server(call, "compute:server:topology:index")
    return {"nodes": [], "pagesize_kb": None}


@router.get("/v2.1/servers/{server_id}/ips/{network}")
def show_ips(call: Call):
    server = find_server(call, "os_compute_api:ips:index")
    network = call.params["network"]
    shown = render.addresses(addresses_of(call, server))
    if network not in shown:
        raise NotFound("Instance is not a member of specified network")
    return {network: shown[network]}
