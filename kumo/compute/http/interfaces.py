"""``/v2.1/servers/{id}/os-interface``: the server's ports — list and show (Tempest's validation finds the
port to give a floating IP this way), attach (200 once the port is plugged, as Nova's synchronous call
returns once the device is in the guest) and detach (202; the agent unplugs it)."""

from __future__ import annotations

import ipaddress

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import network
from kumo.compute.http.common import at_least, find_server, router
from kumo.compute.http.servers import UUID
from kumo.errors import BadRequest

TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
_ATTACHMENT = {"net_id": UUID, "port_id": UUID, "fixed_ips": {
    "type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "object", "required": ["ip_address"], "additionalProperties": False,
        "properties": {"ip_address": {"type": "string"}}}}}
CREATE = {"type": "object", "additionalProperties": False, "properties": {"interfaceAttachment": {
    "type": "object", "additionalProperties": False, "properties": _ATTACHMENT}}}
CREATE_249 = {"type": "object", "additionalProperties": False, "properties": {"interfaceAttachment": {
    "type": "object", "additionalProperties": False, "properties": {**_ATTACHMENT, "tag": TAG}}}}


@router.get("/v2.1/servers/{server_id}/os-interface")
def list_interfaces(call: Call):
    server = find_server(call, "os_compute_api:os-attach-interfaces:list")
    return {"interfaceAttachments": _tagged(call, server.id, network.interfaces(call.db, server.id))}


def _tagged(call: Call, server_id: str, shown: list[dict]) -> list[dict]:
    """2.70: each interface's device tag (null when it has none)."""
    if shown and at_least(call, 70):
        tags = network.interface_tags(call.db, server_id)
        for interface in shown:
            interface["tag"] = tags.get(interface["port_id"])
    return shown


@router.get("/v2.1/servers/{server_id}/os-interface/{port_id}")
def show_interface(call: Call):
    server = find_server(call, "os_compute_api:os-attach-interfaces:show")
    return {"interfaceAttachment": _tagged(call, server.id, [network.interface(call.db, server.id,
                                                                                call.params["port_id"])])[0]}


@router.post("/v2.1/servers/{server_id}/os-interface", write=False)
def attach_interface(call: Call):
    """Runs in a read transaction: the binding commits in its own, then the wait for the agent holds none."""
    body = v.check(call.body if call.body is not None else {}, CREATE_249 if at_least(call, 49) else CREATE)
    attachment = body.get("interfaceAttachment") or {}
    net_id, port_id = attachment.get("net_id"), attachment.get("port_id")
    fixed_ip = (attachment.get("fixed_ips") or [{}])[0].get("ip_address")
    if fixed_ip is not None:
        try:
            ipaddress.ip_address(fixed_ip)
        except ValueError:
            raise BadRequest(f"Invalid input for field/attribute ip_address. Value: {fixed_ip}. "
                             f"'{fixed_ip}' is not a 'ipv4' or 'ipv6'") from None
    if net_id and port_id:
        raise BadRequest("Must not input both network_id and port_id")
    if fixed_ip and not net_id:
        raise BadRequest("Must input network_id when request IP address")
    server = find_server(call, "os_compute_api:os-attach-interfaces:create")
    call.db.rollback()  # end the read transaction: nothing below reads through it
    with call.cloud.db.session() as db:
        attached = network.attach(db, call.ctx, server.id, port_id=port_id, net_id=net_id, fixed_ip=fixed_ip,
                                  tag=attachment.get("tag"))
    network.attached(call.cloud, server.id, attached)
    with call.cloud.db.session(write=False) as db:
        shown = network.interface(db, server.id, attached)
        if at_least(call, 70):
            shown["tag"] = network.interface_tags(db, server.id).get(attached)
        return {"interfaceAttachment": shown}


@router.delete("/v2.1/servers/{server_id}/os-interface/{port_id}")
def detach_interface(call: Call):
    server = find_server(call, "os_compute_api:os-attach-interfaces:delete", write=True)
    network.detach(call.db, call.ctx, server, call.params["port_id"])
    return Reply(None, status=202)
