"""Port pairs: a service function's ingress and egress ports."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import Conflict
from kumo.network.sfc import common
from kumo.network.sfc.models import PortPair, PortPairGroup

CORRELATIONS = (None, "mpls", "nsh")
MODEL = PortPair
WRITABLE = {"name", "description", "project_id", "tenant_id", "ingress", "egress", "service_function_parameters"}
UPDATABLE = {"name": common.text, "description": common.text}

not_found = common.not_found("PortPairNotFound", "Port Pair")
port_not_found = common.not_found("PortPairPortNotFound", "Port Pair port")


def get(db: Session, ctx: Context, pp_id: str) -> PortPair:
    row = db.get(PortPair, pp_id)
    if not common.visible(row, ctx):
        raise not_found(pp_id)
    return row


def _parameters(value) -> dict:
    params = {"correlation": None, "weight": 1}
    if value is None:
        return params
    if not isinstance(value, dict):
        raise common.bad_attribute("service_function_parameters", f"'{value}' is not a dictionary")
    for key, given in value.items():
        if key == "correlation":
            if given not in CORRELATIONS:
                raise common.bad_attribute("service_function_parameters",
                                           f"'{given}' is not in {list(CORRELATIONS)}")
        elif key == "weight":
            try:
                given = int(given)
            except (TypeError, ValueError):
                given = -1
            if given < 0:
                raise common.bad_attribute("service_function_parameters",
                                           f"'{value[key]}' should be non-negative")
        else:
            raise common.bad_attribute("service_function_parameters", f"Unrecognized attribute(s) '{key}'")
        params[key] = given
    return params


def create(db: Session, ctx: Context, project_id: str, item: dict) -> PortPair:
    ingress = common.check_uuid("ingress", common.required(item, "ingress"))
    egress = common.check_uuid("egress", common.required(item, "egress"))
    params = _parameters(item.get("service_function_parameters"))
    taken = db.scalar(sa.select(PortPair).where(PortPair.ingress == ingress, PortPair.egress == egress))
    if taken is not None:
        raise common.invalid("PortPairIngressEgressInUse", f"Port Pair with ingress port {ingress} and egress port"
                             f" {egress} is already used by another Port Pair {taken.id}.")
    ingress_port = common.port(db, ctx, ingress, port_not_found)
    egress_port = common.port(db, ctx, egress, port_not_found)
    # a service function is one device (an instance, a router): both ports must be bound to it
    if not ingress_port.device_id:
        raise common.invalid("PortPairIngressNoHost", f"Port Pair ingress port {ingress} does not belong to a host.")
    if not egress_port.device_id:
        raise common.invalid("PortPairEgressNoHost", f"Port Pair egress port {egress} does not belong to a host.")
    if ingress_port.device_id != egress_port.device_id:
        raise common.invalid("PortPairIngressEgressDifferentHost", f"Port Pair ingress port {ingress} and egress"
                             f" port {egress} not in the same host.")
    pp = PortPair(id=new_id(), project_id=project_id, name=common.text("name", item.get("name")),
                  description=common.text("description", item.get("description")), ingress=ingress, egress=egress,
                  service_function_parameters=params)
    db.add(pp)
    db.flush()
    return pp


def update(db: Session, ctx: Context, pp: PortPair, item: dict) -> None:
    common.update(pp, item, UPDATABLE)


def group_of(db: Session, pp_id: str) -> PortPairGroup | None:
    return next((g for g in db.scalars(sa.select(PortPairGroup)) if pp_id in (g.port_pairs or [])), None)


def delete(db: Session, pp: PortPair) -> None:
    if group_of(db, pp.id) is not None:
        raise Conflict(f"Port Pair {pp.id} in use.", kind="PortPairInUse")
    db.delete(pp)
    db.flush()


def render(pp: PortPair) -> dict:
    return {"id": pp.id, "name": pp.name, "description": pp.description, "project_id": pp.project_id,
            "tenant_id": pp.project_id, "ingress": pp.ingress, "egress": pp.egress,
            "service_function_parameters": dict(pp.service_function_parameters or {})}
