"""networking-sfc over HTTP: ``/v2.0/sfc/{flow_classifiers,port_pairs,port_pair_groups,port_chains,
service_graphs}``. The five resources share one shape, so their routes are made from one table."""

from __future__ import annotations

from types import ModuleType

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope)
from kumo.network.policies import policy
from kumo.network.sfc import flow_classifiers, port_chains, port_pair_groups, port_pairs, service_graphs

SHOWN = ("id", "name", "description", "project_id")
# collection -> (singular, service module, filterable columns besides SHOWN)
RESOURCES = {
    "flow_classifiers": ("flow_classifier", flow_classifiers,
                         ("ethertype", "protocol", "source_ip_prefix", "destination_ip_prefix", "logical_source_port",
                          "logical_destination_port", *flow_classifiers.RANGES)),
    "port_pairs": ("port_pair", port_pairs, ("ingress", "egress")),
    "port_pair_groups": ("port_pair_group", port_pair_groups, ("group_id", "tap_enabled")),
    "port_chains": ("port_chain", port_chains, ("chain_id",)),
    "service_graphs": ("service_graph", service_graphs, ()),
}
# membership lists that an update may replace, beyond name and description
EXTRA_UPDATABLE = {"port_pair_groups": {"port_pairs"}, "port_chains": {"port_pair_groups", "flow_classifiers"}}


def _columns(model, names) -> dict:
    columns = {name: getattr(model, name) for name in (*SHOWN, *names)}
    columns["tenant_id"] = model.project_id
    return columns


def _routes(collection: str, singular: str, service: ModuleType, filterable) -> None:
    model = service.MODEL
    columns = _columns(model, filterable)
    path = f"/v2.0/sfc/{collection}"

    def render_many(call: Call, rows) -> list[dict]:
        return [service.render(row) for row in rows]

    def create(call: Call):
        def create_one(item: dict) -> dict:
            check_keys(item, service.WRITABLE)
            policy.enforce(call.ctx, "create")
            row = service.create(call.db, call.ctx, owner_for_create(call, item), item)
            return service.render(row)
        return bulk_or_single(call, singular, collection, create_one)

    def list_(call: Call):
        return listing(call, scope(sa.select(model), model, call.ctx), model, columns, render_many, collection)

    def show(call: Call):
        row = service.get(call.db, call.ctx, call.params["id"])
        return {singular: fields(call, service.render(row))}

    def update(call: Call):
        item = body_for_update(call, singular)
        updatable = set(service.UPDATABLE) | EXTRA_UPDATABLE.get(collection, set())
        check_keys(item, updatable, read_only=(service.WRITABLE | {"id", "group_id"}) - updatable)
        row = service.get(call.db, call.ctx, call.params["id"])
        policy.enforce(call.ctx, "update", {"project_id": row.project_id})
        service.update(call.db, call.ctx, row, item)
        return {singular: service.render(row)}

    def delete(call: Call):
        row = service.get(call.db, call.ctx, call.params["id"])
        policy.enforce(call.ctx, "delete", {"project_id": row.project_id})
        service.delete(call.db, row)
        return deleted()

    for verb, handler, route in (("post", create, path), ("get", list_, path), ("get", show, path + "/{id}"),
                                 ("put", update, path + "/{id}"), ("delete", delete, path + "/{id}")):
        handler.__name__ = f"{handler.__name__.rstrip('_')}_{singular}"
        getattr(router, verb)(route)(handler)


for _collection, (_singular, _service, _filterable) in RESOURCES.items():
    _routes(_collection, _singular, _service, _filterable)
