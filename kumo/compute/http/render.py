"""Nova's views: servers, flavors, key pairs and instance actions, as each microversion shows them."""

from __future__ import annotations

import hashlib

from kumo.api.routing import Call
from kumo.compute import servers
from kumo.compute.http.common import at_least, isotime, links, usec_time
from kumo.compute.models import Flavor, InstanceAction, KeyPair, Server
from kumo.compute.policies import policy

PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def server_brief(call: Call, server: Server) -> dict:
    return {"id": server.id, "name": server.name, "links": links(call, "servers", server.id)}


def addresses(found: dict, detail: bool = False) -> dict:
    """``found``: a server's addresses per network, from the network service."""
    keys = ("version", "addr", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr") if detail else ("version", "addr")
    return {name: [{k: a[k] for k in keys if k in a} for a in addrs] for name, addrs in found.items()}


def server(call: Call, s: Server, attachments=(), found_addresses: dict | None = None,
           detail: bool = True, groups: list[str] | None = None) -> dict:
    """The full server (show, detail list); ``detail=False`` leaves out what update's view omits;
    ``groups``: the server's group ids, shown from 2.71 (show, update, rebuild — not lists)."""
    ctx = call.ctx
    is_admin = policy.check(ctx, "os_compute_api:extended_server_attributes", {})
    shown_status = servers.status(s)
    base_url = call.cloud.settings.base_url
    body = {
        "id": s.id, "name": s.name, "status": shown_status, "tenant_id": s.project_id, "user_id": s.user_id,
        "metadata": dict(s.metadata_ or {}), "hostId": servers.host_id(s),
        "image": {"id": s.image_id, "links": [{"rel": "bookmark",
                                                "href": f"{base_url}/compute/images/{s.image_id}"}]}
        if s.image_id else "",
        "flavor": {"id": s.flavor_id, "links": [{"rel": "bookmark",
                                                  "href": f"{base_url}/compute/flavors/{s.flavor_id}"}]},
        "created": isotime(s.created_at), "updated": isotime(s.updated_at),
        "addresses": addresses(found_addresses or {}, detail),
        "accessIPv4": s.access_ipv4 or "", "accessIPv6": s.access_ipv6 or "",
        "links": links(call, "servers", s.id), "OS-DCF:diskConfig": "MANUAL",
    }
    if shown_status in PROGRESS_STATUSES:
        body["progress"] = s.progress if shown_status != "BUILD" else 0
    if s.vm_state in ("error", "deleted") and s.fault:
        fault = {"code": s.fault.get("code", 500), "created": s.fault.get("created", isotime(s.updated_at)),
                 "message": s.fault.get("message", "")}
        if is_admin and s.fault.get("details"):
            fault["details"] = s.fault["details"]
        body["fault"] = fault
    if at_least(call, 9):
        body["locked"] = bool(s.locked)
    if at_least(call, 19):
        body["description"] = s.description
    if at_least(call, 26):
        body["tags"] = list(s.tags or [])
    if at_least(call, 47):
        body["flavor"] = embedded_flavor(ctx, s.flavor or {})
    if at_least(call, 63):
        body["trusted_image_certificates"] = (s.system_metadata or {}).get(servers.TRUSTED_CERTS) or None
    if at_least(call, 71) and groups is not None:
        body["server_groups"] = groups
    if at_least(call, 73):
        body["locked_reason"] = s.locked_reason if s.locked else None
    if not detail:
        return body
    body.update({
        "key_name": s.key_name, "config_drive": s.config_drive or "",
        "security_groups": [{"name": g} for g in (s.security_groups or [])],
        "OS-EXT-AZ:availability_zone": s.availability_zone or "nova",
        "OS-EXT-STS:vm_state": s.vm_state, "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:power_state": int(s.power_state or 0),
        "OS-SRV-USG:launched_at": usec_time(s.launched_at), "OS-SRV-USG:terminated_at": None,
        "os-extended-volumes:volumes_attached": [
            {"id": a.volume_id, **({"delete_on_termination": bool(a.delete_on_termination)}
                                   if at_least(call, 3) else {})}
            for a in attachments if a.state != "attaching"],
    })
    if is_admin:
        body.update({"OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
                     "OS-EXT-SRV-ATTR:instance_name": "instance-" + s.id[:8]})
        if at_least(call, 3):
            body.update({"OS-EXT-SRV-ATTR:reservation_id": s.reservation_id,
                         "OS-EXT-SRV-ATTR:launch_index": s.launch_index, "OS-EXT-SRV-ATTR:kernel_id": "",
                         "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:hostname": s.hostname,
                         "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda", "OS-EXT-SRV-ATTR:user_data": s.user_data})
        if at_least(call, 16):
            body["host_status"] = "UP" if s.host else ""
    return body


def embedded_flavor(ctx, snapshot: dict) -> dict:
    """2.47: the flavor as the server was built with it (it outlives the flavor)."""
    shown = {"vcpus": snapshot.get("vcpus", 0), "ram": snapshot.get("ram", 0), "disk": snapshot.get("disk", 0),
             "ephemeral": snapshot.get("ephemeral", 0), "swap": snapshot.get("swap", 0),
             "original_name": snapshot.get("name", "")}
    if policy.check(ctx, "os_compute_api:os-flavor-extra-specs:index", {}):
        shown["extra_specs"] = dict(snapshot.get("extra_specs") or {})
    return shown


def flavor(call: Call, f: Flavor, detail: bool = True) -> dict:
    body = {"id": f.id, "name": f.name, "links": links(call, "flavors", f.id)}
    if at_least(call, 55):
        body["description"] = f.description
    if not detail:
        return body
    body.update({"ram": f.ram, "vcpus": f.vcpus, "disk": f.disk, "swap": f.swap if at_least(call, 75) else (f.swap or ""),
                 "OS-FLV-EXT-DATA:ephemeral": f.ephemeral, "OS-FLV-DISABLED:disabled": bool(f.disabled),
                 "os-flavor-access:is_public": bool(f.is_public), "rxtx_factor": f.rxtx_factor})
    if at_least(call, 61) and policy.check(call.ctx, "os_compute_api:os-flavor-extra-specs:index", {}):
        body["extra_specs"] = dict(f.extra_specs or {})
    return body


def keypair(call: Call, k: KeyPair, *, full: bool, private_key: str | None = None) -> dict:
    body = {"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint}
    if at_least(call, 2):
        body["type"] = k.type
    if full:
        body.update({"user_id": k.user_id})
        if private_key is not None:
            body["private_key"] = private_key
    return body


def keypair_show(call: Call, k: KeyPair) -> dict:
    body = keypair(call, k, full=True)
    body.update({"id": k.id, "created_at": usec_time(k.created_at), "updated_at": None, "deleted_at": None,
                 "deleted": False})
    return body


def instance_action(a: InstanceAction, events: bool | None = None, updated: bool = False,
                    hosts: bool | None = None, details: bool = False) -> dict:
    """``events``: None leaves them out, False without tracebacks; ``hosts`` (2.62): None leaves the event's
    host out, False only its ``hostId``, True also ``host`` (admin). Every event ran on this one host.
    ``details`` (2.84): a failed event's error message."""
    body = {"action": a.action, "instance_uuid": a.server_id, "request_id": a.request_id, "user_id": a.user_id,
            "project_id": a.project_id, "start_time": usec_time(a.start_time), "message": a.message}
    if updated:  # 2.58
        body["updated_at"] = usec_time(a.updated_at)
    if events is not None:
        body["events"] = [{"event": e["event"], "start_time": _iso_text(e["start_time"]),
                           "finish_time": _iso_text(e.get("finish_time")), "result": e.get("result"),
                           **({"traceback": e.get("traceback")} if events else {}),
                           **({"details": e.get("traceback") if e.get("result") == "Error" else None}
                              if details else {}),
                           **_event_host(a, hosts)}
                          for e in (a.events or [])]
    return body


def _event_host(a: InstanceAction, hosts: bool | None) -> dict:
    if hosts is None:
        return {}
    shown = {"hostId": hashlib.sha224((a.project_id + servers.HOST).encode()).hexdigest()}
    if hosts:
        shown["host"] = servers.HOST
    return shown


def _iso_text(value: str | None) -> str | None:
    if not value:
        return None
    return value if "." in value else value + ".000000"
