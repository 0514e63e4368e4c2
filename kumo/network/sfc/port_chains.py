"""Port chains: classified traffic steered through port pair groups in order."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import Conflict
from kumo.network.sfc import common, flow_classifiers, port_pair_groups, port_pairs
from kumo.network.sfc.models import PortChain, ServiceGraph

MAX_CHAIN_ID = 65535
CORRELATIONS = ("mpls", "nsh")
MODEL = PortChain
WRITABLE = {"name", "description", "project_id", "tenant_id", "port_pair_groups", "flow_classifiers",
            "chain_parameters", "chain_id"}
UPDATABLE = {"name": common.text, "description": common.text}

not_found = common.not_found("PortChainNotFound", "Port Chain")


def get(db: Session, ctx: Context, pc_id: str) -> PortChain:
    row = db.get(PortChain, pc_id)
    if not common.visible(row, ctx):
        raise not_found(pc_id)
    return row


def _parameters(value) -> dict:
    params = {"correlation": "mpls", "symmetric": False}
    if value is None:
        return params
    if not isinstance(value, dict):
        raise common.bad_attribute("chain_parameters", f"'{value}' is not a dictionary")
    for key, given in value.items():
        if key == "correlation":
            if given not in CORRELATIONS:
                raise common.bad_attribute("chain_parameters", f"'{given}' is not in {list(CORRELATIONS)}")
        elif key == "symmetric":
            given = common.boolean("chain_parameters", given)
        else:
            raise common.bad_attribute("chain_parameters", f"Unrecognized attribute(s) '{key}'")
        params[key] = given
    return params


def _groups(db: Session, ctx: Context, value, pc_id: str | None) -> list[str]:
    pg_ids = common.uuid_list("port_pair_groups", value)
    if not pg_ids:
        raise common.invalid("PortPairGroupNotSpecified", "Port Pair Group is not specified in Port Chain.")
    previous_tap = False
    for pg_id in pg_ids:
        tap = port_pair_groups.get(db, ctx, pg_id).tap_enabled
        if previous_tap and tap:
            raise common.invalid("ConsecutiveTapPPGNotSupported",
                                 "Consecutive Tap PPG in port chain is not supported now.")
        previous_tap = tap
    for other in db.scalars(sa.select(PortChain).where(PortChain.id != (pc_id or ""))):
        if list(other.port_pair_groups or []) == pg_ids:
            raise Conflict(f"Port Pair Group(s) {pg_ids} in use by Port Chain {other.id}.",
                           kind="InvalidPortPairGroups")
    return pg_ids


def _correlation(db: Session, ctx: Context, pg_ids: list[str], correlation: str) -> None:
    for pg_id in pg_ids:
        for pp_id in port_pair_groups.get(db, ctx, pg_id).port_pairs or []:
            pp = port_pairs.get(db, ctx, pp_id)
            if (pp.service_function_parameters or {}).get("correlation") not in (None, correlation):
                raise common.invalid("PortChainInconsistentCorrelations", "Port Chain attempted creation included"
                                     f" a Port Pair Group ({pg_id}) with a different protocol used as correlation"
                                     " type.")


def _classifiers(db: Session, ctx: Context, value, pc_id: str | None, symmetric: bool) -> list[str]:
    fc_ids = common.uuid_list("flow_classifiers", value)
    fcs = [flow_classifiers.get(db, ctx, fc_id) for fc_id in fc_ids]
    for fc in fcs:
        owner = flow_classifiers.chain_of(db, fc.id)
        if owner is not None and owner.id != pc_id:
            raise Conflict(f"Flow Classifier {fc.id} in use.", kind="FlowClassifierInUse")
        if symmetric and fc.logical_destination_port is None:  # replies are steered back at the destination port
            raise common.invalid("SfcBadRequest", f"FlowClassifier {fc.id} does not set logical_destination_port."
                                 " logical_destination_port needed when symmetric has been set. Please recreate"
                                 " FlowClassifier with logical_destination_port and destination_ip_prefix.")
    for other in db.scalars(sa.select(PortChain).where(PortChain.id != (pc_id or ""))):
        for other_fc_id in other.flow_classifiers or []:
            theirs = db.get(flow_classifiers.FlowClassifier, other_fc_id)
            for fc in fcs:
                if theirs is not None and flow_classifiers.conflict(theirs, fc):
                    raise common.invalid("PortChainFlowClassifierInConflict", f"Flow Classifier {fc.id} conflicts"
                                         f" with Flow Classifier {theirs.id} in port chain {other.id}.")
    return fc_ids


def create(db: Session, ctx: Context, project_id: str, item: dict) -> PortChain:
    params = _parameters(item.get("chain_parameters"))
    pg_ids = _groups(db, ctx, common.required(item, "port_pair_groups"), None)
    _correlation(db, ctx, pg_ids, params["correlation"])
    fc_ids = _classifiers(db, ctx, item.get("flow_classifiers"), None, params["symmetric"])
    chain_id = _chain_id(item.get("chain_id", 0))
    taken = {row.chain_id: row.id for row in db.scalars(sa.select(PortChain))}
    if not chain_id:
        chain_id = next((n for n in range(1, MAX_CHAIN_ID) if n not in taken), 0)
        if not chain_id:
            raise common.invalid("PortChainUnavailableChainId", "Port Chain no available chain id.")
    elif chain_id in taken:
        raise common.invalid("PortChainChainIdInConflict", f"Chain id {chain_id} conflicts with Chain id in port"
                             f" chain {taken[chain_id]}.")
    pc = PortChain(id=new_id(), project_id=project_id, name=common.text("name", item.get("name")),
                   description=common.text("description", item.get("description")), chain_id=chain_id,
                   port_pair_groups=pg_ids, flow_classifiers=fc_ids, chain_parameters=params)
    db.add(pc)
    db.flush()
    return pc


def _chain_id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise common.bad_attribute("chain_id", f"'{value}' is not an integer") from None
    if isinstance(value, bool) or not 0 <= number <= MAX_CHAIN_ID:
        raise common.bad_attribute("chain_id", f"'{value}' is not in range 0 through {MAX_CHAIN_ID}")
    return number


def graph_of(db: Session, pc_id: str, skip_graph: str | None = None) -> ServiceGraph | None:
    for graph in db.scalars(sa.select(ServiceGraph).where(ServiceGraph.id != (skip_graph or ""))):
        if pc_id in graph.port_chains or any(pc_id in dsts for dsts in graph.port_chains.values()):
            return graph
    return None


def in_use(pc_id: str) -> Conflict:
    return Conflict(f"Port Chain {pc_id} in use.", kind="ServiceGraphPortChainInUse")


def update(db: Session, ctx: Context, pc: PortChain, item: dict) -> None:
    if ("flow_classifiers" in item or "port_pair_groups" in item) and graph_of(db, pc.id) is not None:
        raise in_use(pc.id)
    if "flow_classifiers" in item:
        pc.flow_classifiers = _classifiers(db, ctx, item["flow_classifiers"], pc.id,
                                           bool((pc.chain_parameters or {}).get("symmetric")))
    if "port_pair_groups" in item:
        pg_ids = _groups(db, ctx, item["port_pair_groups"], pc.id)
        _correlation(db, ctx, pg_ids, (pc.chain_parameters or {}).get("correlation", "mpls"))
        pc.port_pair_groups = pg_ids
    common.update(pc, item, UPDATABLE)


def delete(db: Session, pc: PortChain) -> None:
    if graph_of(db, pc.id) is not None:
        raise in_use(pc.id)
    db.delete(pc)
    db.flush()


def render(pc: PortChain) -> dict:
    return {"id": pc.id, "name": pc.name, "description": pc.description, "project_id": pc.project_id,
            "tenant_id": pc.project_id, "chain_id": pc.chain_id, "port_pair_groups": list(pc.port_pair_groups or []),
            "flow_classifiers": list(pc.flow_classifiers or []),
            "chain_parameters": dict(pc.chain_parameters or {})}
