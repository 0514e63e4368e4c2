"""``/v2.0/{resources}/{id}/tags``: list, replace, clear, and one tag at a time (``standard-attr-tag``)."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest
from kumo.network import (floating_ips, networks, ports, routers, security_groups, subnetpools, subnets, tags,
                          trunks)
from kumo.network.http.common import deleted, router, touch
from kumo.network.policies import policy

# collection in the URL -> (the resource's singular name in messages, its lookup)
TAGGABLE = {"networks": ("network", networks.get), "subnets": ("subnet", subnets.get),
            "ports": ("port", ports.get), "routers": ("router", routers.get),
            "subnetpools": ("subnetpool", subnetpools.get), "security-groups": ("security_group", security_groups.get),
            "floatingips": ("floatingip", floating_ips.get), "trunks": ("trunk", trunks.get)}


def _resource(call: Call, collection: str, write: bool):
    name, get = TAGGABLE[collection]
    row = get(call.db, call.ctx, call.params["resource_id"])
    if write:
        policy.enforce(call.ctx, "update", {"project_id": row.project_id})
    return name, row


def _routes(collection: str) -> None:
    base = f"/v2.0/{collection}/{{resource_id}}/tags"

    @router.get(base)
    def list_tags(call: Call):
        _, row = _resource(call, collection, write=False)
        return {"tags": list(row.tags or [])}

    @router.put(base)
    def replace_tags(call: Call):
        body = call.body
        if not isinstance(body, dict) or "tags" not in body:
            raise BadRequest("Invalid input for operation: Invalid tags body.", kind="InvalidInput")
        _, row = _resource(call, collection, write=True)
        result = tags.replace(row, body["tags"])
        touch(row)
        return {"tags": result}

    @router.delete(base)
    def clear_tags(call: Call):
        _, row = _resource(call, collection, write=True)
        tags.clear(row)
        touch(row)
        return deleted()

    @router.get(base + "/{tag}")
    def check_tag(call: Call):
        name, row = _resource(call, collection, write=False)
        tags.require(row, call.params["tag"], name)
        return deleted()

    @router.put(base + "/{tag}")
    def add_tag(call: Call):
        _, row = _resource(call, collection, write=True)
        tags.add(row, call.params["tag"])
        touch(row)
        return Reply(None, status=201)

    @router.delete(base + "/{tag}")
    def remove_tag(call: Call):
        name, row = _resource(call, collection, write=True)
        tags.remove(row, call.params["tag"], name)
        touch(row)
        return deleted()


for _collection in TAGGABLE:
    _routes(_collection)
