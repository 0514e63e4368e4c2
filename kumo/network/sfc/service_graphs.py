"""Service graphs: port chains joined end to start, branching on the next chains' classifiers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import BadRequest, Conflict
from kumo.network.sfc import common, flow_classifiers, port_chains, port_pair_groups, port_pairs
from kumo.network.sfc.models import ServiceGraph

MODEL = ServiceGraph
WRITABLE = {"name", "description", "project_id", "tenant_id", "port_chains"}
UPDATABLE = {"name": common.text, "description": common.text}

not_found = common.not_found("ServiceGraphNotFound", "Service Graph")


def get(db: Session, ctx: Context, graph_id: str) -> ServiceGraph:
    row = db.get(ServiceGraph, graph_id)
    if not common.visible(row, ctx):
        raise not_found(graph_id)
    return row


def _map(value) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise common.bad_attribute("port_chains", f"'{value}' is not a dictionary")
    checked = {}
    for src, dsts in value.items():
        try:
            common.check_uuid("port_chains", src)
        except BadRequest:
            raise common.invalid("InvalidUUID", "An invalid UUID was specified: UUID of source Port-Chain is"
                                 f" invalid: {src}. Make sure only valid UUIDs are provided.") from None
        dsts = dsts if isinstance(dsts, list) else [dsts]
        for dst in dsts:
            try:
                common.check_uuid("port_chains", dst)
            except BadRequest:
                raise common.invalid("InvalidUUID", "An invalid UUID was specified: UUID of destination Port-Chain"
                                     f" is invalid: {dst}. Make sure only valid UUIDs are provided.") from None
        checked[src] = list(dsts)
    return checked


def _branch_correlated(db: Session, ctx: Context, pg_id: str, correlation: str) -> None:
    for pp_id in port_pair_groups.get(db, ctx, pg_id).port_pairs or []:
        if (port_pairs.get(db, ctx, pp_id).service_function_parameters or {}).get("correlation") != correlation:
            raise common.invalid("ServiceGraphImpossibleBranching", "Service Graphs require source (branching) and"
                                 " destination port pair groups (their PPs) to have correlation enabled.")


def _check(db: Session, ctx: Context, graph: dict[str, list[str]], graph_id: str | None) -> None:
    everyone = set(graph) | {dst for dsts in graph.values() for dst in dsts}
    chains = {pc_id: port_chains.get(db, ctx, pc_id) for pc_id in sorted(everyone)}
    if any(port_chains.graph_of(db, pc_id, skip_graph=graph_id) is not None for pc_id in everyone):
        raise Conflict(f"Some of the Port Chain(s): {graph}, are already in use by a Service Graph.",
                       kind="ServiceGraphInvalidPortChains")
    encapsulation = None
    parents: dict[str, list[str]] = {}
    inconsistent = common.invalid("ServiceGraphInconsistentEncapsulation",
                                  "Service Graph may only connect port-chains sharing the same correlation.")
    for src, dsts in graph.items():
        correlation = chains[src].chain_parameters.get("correlation")
        _branch_correlated(db, ctx, chains[src].port_pair_groups[-1], correlation)
        encapsulation = encapsulation or correlation
        if encapsulation != correlation:
            raise inconsistent
        seen, classifiers = [], []
        for dst in dsts:
            if dst in seen:
                raise common.invalid("ServiceGraphPortChainInConflict", f"Port Chain {dst} is duplicated on one of"
                                     " the branching points being created.")
            seen.append(dst)
            dst_correlation = chains[dst].chain_parameters.get("correlation")
            _branch_correlated(db, ctx, chains[dst].port_pair_groups[0], dst_correlation)
            if dst_correlation != encapsulation:
                raise inconsistent
            parents.setdefault(dst, []).append(src)
            for fc_id in chains[dst].flow_classifiers or []:
                fc = flow_classifiers.get(db, ctx, fc_id)
                for earlier in classifiers:
                    if flow_classifiers.conflict(earlier, fc):
                        raise common.invalid("ServiceGraphFlowClassifierInConflict", f"Flow Classifier {earlier.id}"
                                             f" conflicts with Flow Classifier {fc.id} on one of the branching"
                                             " points being created.")
                classifiers.append(fc)
    if any(_loops(parents, pc_id, []) for pc_id in parents):
        raise common.invalid("ServiceGraphLoopDetected",
                             "Service Graph defined contains at least one port chain loop.")


def _loops(parents: dict, pc_id: str, path: list[str]) -> bool:
    if pc_id in path:
        return True
    return any(_loops(parents, up, path + [pc_id]) for up in parents.get(pc_id, []))


def create(db: Session, ctx: Context, project_id: str, item: dict) -> ServiceGraph:
    graph = _map(common.required(item, "port_chains"))
    _check(db, ctx, graph, None)
    row = ServiceGraph(id=new_id(), project_id=project_id, name=common.text("name", item.get("name")),
                       description=common.text("description", item.get("description")), port_chains=graph)
    db.add(row)
    db.flush()
    return row


def update(db: Session, ctx: Context, graph: ServiceGraph, item: dict) -> None:
    common.update(graph, item, UPDATABLE)


def delete(db: Session, graph: ServiceGraph) -> None:
    db.delete(graph)
    db.flush()


def render(graph: ServiceGraph) -> dict:
    return {"id": graph.id, "name": graph.name, "description": graph.description, "project_id": graph.project_id,
            "tenant_id": graph.project_id, "port_chains": {k: list(v) for k, v in (graph.port_chains or {}).items()}}
