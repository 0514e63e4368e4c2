"""``/v2.1/servers/{id}/os-interface``: the server's ports (reading; Tempest's validation finds the port
to give a floating IP this way)."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.compute import network
from kumo.compute.http.common import find_server, router
from kumo.errors import NotFound


@router.get("/v2.1/servers/{server_id}/os-interface")
def list_interfaces(call: Call):
    server = find_server(call, "os_compute_api:os-attach-interfaces:list")
    return {"interfaceAttachments": network.interfaces(call.db, server.id)}


@router.get("/v2.1/servers/{server_id}/os-interface/{port_id}")
def show_interface(call: Call):
    server = find_server(call, "os_compute_api:os-attach-interfaces:show")
    found = next((i for i in network.interfaces(call.db, server.id) if i["port_id"] == call.params["port_id"]), None)
    if found is None:
        raise NotFound(f"Instance {server.id} does not have a port with id {call.params['port_id']}")
    return {"interfaceAttachment": found}
