"""Port pair groups: interchangeable instances of one service function, with load-balancing rules."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import Conflict
from kumo.network.models import Port
from kumo.network.sfc import common, flow_classifiers, port_pairs
from kumo.network.sfc.models import PortChain, PortPairGroup

LB_FIELDS = ("eth_src", "eth_dst", "ip_src", "ip_dst", "tcp_src", "tcp_dst", "udp_src", "udp_dst")
N_TUPLE_KEYS = ("source_ip_prefix", "destination_ip_prefix", "source_port_range_min", "source_port_range_max",
                "destination_port_range_min", "destination_port_range_max")
MODEL = PortPairGroup
WRITABLE = {"name", "description", "project_id", "tenant_id", "port_pairs", "port_pair_group_parameters",
            "tap_enabled"}
UPDATABLE = {"name": common.text, "description": common.text}

not_found = common.not_found("PortPairGroupNotFound", "Port Pair Group")


def get(db: Session, ctx: Context, pg_id: str) -> PortPairGroup:
    row = db.get(PortPairGroup, pg_id)
    if not common.visible(row, ctx):
        raise not_found(pg_id)
    return row


def _bad_mapping(message: str):
    return common.invalid("PPGParametersInvalidNTupleMappingParameter", "Invalid Port Pair Group N-Tuple Mapping"
                          f" parameters: {message}. Supported PPG classifier N-Tuple Mapping parameters are"
                          f" {list(N_TUPLE_KEYS)}.")


def _n_tuple(value) -> dict:
    if not isinstance(value, dict):
        raise _bad_mapping(f"'{value}' is not a dictionary")
    checked = {}
    for key, given in value.items():
        if key not in N_TUPLE_KEYS:
            raise _bad_mapping(f"Unknow key {key}")
        checked[key] = common.prefix(key, given) if key.endswith("prefix") else flow_classifiers.port_value(given)
    return checked


def _parameters(value) -> dict:
    params = {"lb_fields": [], "ppg_n_tuple_mapping": {"ingress_n_tuple": {}, "egress_n_tuple": {}}}
    if value is None:
        return params
    if not isinstance(value, dict):
        raise common.bad_attribute("port_pair_group_parameters", f"'{value}' is not a dictionary")
    for key, given in value.items():
        if key == "lb_fields":
            if not isinstance(given, list):
                raise common.bad_attribute("port_pair_group_parameters", f"'{given}' is not a list")
            illegal = [f for f in given if f not in LB_FIELDS]
            if illegal:
                raise common.bad_attribute("port_pair_group_parameters",
                                           f"Illegal values in a list: {', '.join(map(str, illegal))}")
            params["lb_fields"] = list(given)
        elif key == "ppg_n_tuple_mapping":
            mapping = {"ingress_n_tuple": {}, "egress_n_tuple": {}}
            for side, tuple_ in (given or {}).items():
                if side not in mapping:
                    raise _bad_mapping(f"Unknow key {side}")
                mapping[side] = _n_tuple(tuple_ or {})
            params["ppg_n_tuple_mapping"] = mapping
        else:
            raise common.bad_attribute("port_pair_group_parameters", f"Unrecognized attribute(s) '{key}'")
    return params


def _check_pairs(db: Session, ctx: Context, pp_ids: list[str], group_id: str, tap: bool) -> None:
    correlations, networks = set(), {"ingress": set(), "egress": set()}
    for pp_id in pp_ids:
        pp = port_pairs.get(db, ctx, pp_id)
        correlations.add((pp.service_function_parameters or {}).get("correlation"))
        owner = port_pairs.group_of(db, pp_id)
        if owner is not None and owner.id != group_id:
            raise Conflict(f"Port Pair {pp_id} in use.", kind="PortPairInUse")
        for side in networks:
            port = db.get(Port, getattr(pp, side))
            networks[side].add(port.network_id if port is not None else None)
    for side, seen in networks.items():  # the steering driver's rule: one network per side of a group
        if len(seen) > 1:
            raise common.invalid("SfcBadRequest", f"PortPairGroup {group_id} {side} ports must be on same network")
    if len(correlations) > 1:
        raise common.invalid("InconsistentCorrelations", "Port Pair Group attempted creation included Port Pairs"
                             " with inconsistent correlation types.")
    if tap and len(pp_ids) > 1:
        raise common.invalid("MultiplePortPairsInTapPPGNotSupported",
                             "Multiple port pairs in Tap enabled port pair group is not supported.")


def create(db: Session, ctx: Context, project_id: str, item: dict) -> PortPairGroup:
    pp_ids = common.uuid_list("port_pairs", item.get("port_pairs"))
    params = _parameters(item.get("port_pair_group_parameters"))
    tap = common.boolean("tap_enabled", item.get("tap_enabled", False))
    pg_id = new_id()
    _check_pairs(db, ctx, pp_ids, pg_id, tap)
    used = set(db.scalars(sa.select(PortPairGroup.group_id)))
    group_id = next(n for n in range(1, len(used) + 2) if n not in used)
    pg = PortPairGroup(id=pg_id, project_id=project_id, name=common.text("name", item.get("name")),
                       description=common.text("description", item.get("description")), group_id=group_id,
                       tap_enabled=tap, port_pairs=pp_ids, port_pair_group_parameters=params)
    db.add(pg)
    db.flush()
    return pg


def update(db: Session, ctx: Context, pg: PortPairGroup, item: dict) -> None:
    if "port_pairs" in item:
        pp_ids = common.uuid_list("port_pairs", item["port_pairs"])
        _check_pairs(db, ctx, pp_ids, pg.id, pg.tap_enabled)
        pg.port_pairs = pp_ids
    common.update(pg, item, UPDATABLE)


def chains_of(db: Session, pg_id: str) -> list[PortChain]:
    return [pc for pc in db.scalars(sa.select(PortChain)) if pg_id in (pc.port_pair_groups or [])]


def delete(db: Session, pg: PortPairGroup) -> None:
    if chains_of(db, pg.id):
        raise Conflict(f"Port Pair Group {pg.id} in use.", kind="PortPairGroupInUse")
    db.delete(pg)
    db.flush()


def render(pg: PortPairGroup) -> dict:
    return {"id": pg.id, "name": pg.name, "description": pg.description, "project_id": pg.project_id,
            "tenant_id": pg.project_id, "port_pairs": list(pg.port_pairs or []), "tap_enabled": pg.tap_enabled,
            "group_id": pg.group_id, "port_pair_group_parameters": dict(pg.port_pair_group_parameters or {})}
