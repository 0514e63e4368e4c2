"""``/v2.0/trunks`` (the ``trunk`` extension) and its member actions ``add_subports``, ``remove_subports``,
``get_subports``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import trunks
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.policies import policy
from kumo.network.trunk_models import Trunk

COLUMNS = {"id": Trunk.id, "name": Trunk.name, "description": Trunk.description, "port_id": Trunk.port_id,
           "admin_state_up": Trunk.admin_state_up, "status": Trunk.status, "project_id": Trunk.project_id,
           "tenant_id": Trunk.project_id, "revision_number": Trunk.revision_number,
           "created_at": Trunk.created_at, "updated_at": Trunk.updated_at}
WRITABLE = {"name", "description", "port_id", "admin_state_up", "sub_ports", "project_id", "tenant_id", "tags"}
READ_ONLY = {"id", "port_id", "sub_ports", "status", "project_id", "tenant_id", "revision_number", "created_at",
             "updated_at"}


def render_many(call: Call, rows: list[Trunk]) -> list[dict]:
    subs = trunks.subports_of(call.db, [t.id for t in rows])
    return [{"id": t.id, "name": t.name, "port_id": t.port_id, "admin_state_up": t.admin_state_up,
             "status": t.status, "sub_ports": [trunks.render_subport(s) for s in subs[t.id]], **standard(t)}
            for t in rows]


def render(call: Call, trunk: Trunk) -> dict:
    return render_many(call, [trunk])[0]


def _sub_ports(call: Call):
    body = call.body
    if not isinstance(body, dict) or "sub_ports" not in body:
        raise BadRequest("Invalid input for operation: 'sub_ports' expected.", kind="InvalidInput")
    return body["sub_ports"]


def _writable(call: Call) -> Trunk:
    trunk = trunks.get(call.db, call.ctx, call.params["trunk_id"])
    policy.enforce(call.ctx, "update", {"project_id": trunk.project_id})
    return trunk


@router.post("/v2.0/trunks")
def create_trunk(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        policy.enforce(call.ctx, "create")
        trunk = trunks.create(call.db, call.ctx, owner_for_create(call, item), item)
        take_tags(trunk, item)
        return render(call, trunk)
    return bulk_or_single(call, "trunk", "trunks", create_one)


@router.get("/v2.0/trunks")
def list_trunks(call: Call):
    return listing(call, scope(sa.select(Trunk), Trunk, call.ctx), Trunk, COLUMNS, render_many, "trunks")


@router.get("/v2.0/trunks/{trunk_id}")
def show_trunk(call: Call):
    return {"trunk": fields(call, render(call, trunks.get(call.db, call.ctx, call.params["trunk_id"])))}


@router.put("/v2.0/trunks/{trunk_id}")
def update_trunk(call: Call):
    item = body_for_update(call, "trunk")
    check_keys(item, trunks.UPDATABLE, read_only=READ_ONLY)
    trunk = _writable(call)
    trunks.update(call.db, trunk, item)
    touch(trunk)
    return {"trunk": render(call, trunk)}


@router.delete("/v2.0/trunks/{trunk_id}")
def delete_trunk(call: Call):
    trunk = trunks.get(call.db, call.ctx, call.params["trunk_id"])
    policy.enforce(call.ctx, "delete", {"project_id": trunk.project_id})
    trunks.delete(call.db, trunk)
    return deleted()


@router.put("/v2.0/trunks/{trunk_id}/add_subports")
def add_subports(call: Call):
    trunk = _writable(call)
    trunks.add_subports(call.db, call.ctx, trunk, _sub_ports(call))
    touch(trunk)
    return render(call, trunk)


@router.put("/v2.0/trunks/{trunk_id}/remove_subports")
def remove_subports(call: Call):
    trunk = _writable(call)
    trunks.remove_subports(call.db, trunk, _sub_ports(call))
    touch(trunk)
    return render(call, trunk)


@router.get("/v2.0/trunks/{trunk_id}/get_subports")
def get_subports(call: Call):
    trunk = trunks.get(call.db, call.ctx, call.params["trunk_id"])
    return {"sub_ports": [trunks.render_subport(s) for s in trunks.subports_of(call.db, [trunk.id])[trunk.id]]}
