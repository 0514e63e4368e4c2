"""Managing the catalog: regions, services and endpoints (``catalog`` builds what tokens show)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters, new_id
from kumo.errors import BadRequest, Conflict, Forbidden
from kumo.identity.core import get_or_404
from kumo.identity.models import Endpoint, Region, Service

REGION_FILTERS = {"parent_region_id": Region.parent_region_id}
SERVICE_FILTERS = {"type": Service.type, "name": Service.name}
ENDPOINT_FILTERS = {"service_id": Endpoint.service_id, "interface": Endpoint.interface,
                    "region_id": Endpoint.region_id}

# The substitutions Keystone allows in an endpoint URL, as in ``http://host/v3/$(project_id)s``.
URL_SUBSTITUTIONS = frozenset({"tenant_id", "project_id", "user_id", "public_bind_host", "admin_bind_host",
                               "compute_host", "admin_port", "public_port", "public_endpoint", "admin_endpoint"})
_SUBSTITUTION = re.compile(r"\$\(([^)]*)\)s")


# -- regions -----------------------------------------------------------------

def get_region(db: Session, region_id: str) -> Region:
    return get_or_404(db, Region, region_id, "region")


def list_regions(db: Session, query_filters: dict) -> list[Region]:
    query = filters.apply(sa.select(Region), REGION_FILTERS, query_filters)
    return list(db.scalars(query.order_by(Region.id)))


def create_region(db: Session, *, id: str | None = None, description: str | None = "",
                  parent_region_id: str | None = None, extra=None) -> Region:
    region_id = id or new_id()
    if db.get(Region, region_id) is not None:
        raise Conflict(f"Conflict occurred attempting to store region - Duplicate ID, {region_id}.")
    if parent_region_id is not None:
        get_region(db, parent_region_id)
    region = Region(id=region_id, description=description or "", parent_region_id=parent_region_id,
                    extra=extra or {})
    db.add(region)
    db.flush()
    return region


def update_region(db: Session, region_id: str, changes: dict, extra: dict | None = None) -> Region:
    if "id" in changes and changes["id"] != region_id:
        raise BadRequest("Cannot change ID.")
    region = get_region(db, region_id)
    if "parent_region_id" in changes:
        parent_id = changes["parent_region_id"]
        ancestor = parent_id
        while ancestor:
            if ancestor == region.id:
                raise BadRequest(f"The specified parent region {parent_id} would create a circular region"
                                 " hierarchy.")
            ancestor = get_region(db, ancestor).parent_region_id
        region.parent_region_id = parent_id
    if "description" in changes:
        region.description = changes["description"] or ""
    if extra:
        region.extra = {**(region.extra or {}), **extra}
    db.flush()
    return region


def delete_region(db: Session, region_id: str) -> None:
    """Delete a region and, as Keystone does, its child regions; refused while any of them has endpoints."""
    region = get_region(db, region_id)
    tree = [region.id]
    frontier = [region.id]
    while frontier:
        frontier = [rid for rid in db.scalars(sa.select(Region.id).where(Region.parent_region_id.in_(frontier)))
                    if rid not in tree]
        tree.extend(frontier)
    if db.scalars(sa.select(Endpoint.id).where(Endpoint.region_id.in_(tree))).first():
        raise Forbidden(f"Unable to delete region {region.id} because it or its child regions have associated"
                        " endpoints.")
    for rid in reversed(tree):  # leaves first: the parent reference is a foreign key
        db.execute(sa.delete(Region).where(Region.id == rid))
    db.flush()


# -- services ----------------------------------------------------------------

def get_service(db: Session, service_id: str) -> Service:
    return get_or_404(db, Service, service_id, "service")


def list_services(db: Session, query_filters: dict) -> list[Service]:
    query = filters.apply(sa.select(Service), SERVICE_FILTERS, query_filters)
    return list(db.scalars(query.order_by(Service.type, Service.name, Service.id)))


def create_service(db: Session, *, type: str, name: str = "", description: str = "", enabled: bool = True,
                   extra=None) -> Service:
    service = Service(type=type, name=name or "", description=description or "", enabled=enabled,
                      extra=extra or {})
    db.add(service)
    db.flush()
    return service


def update_service(db: Session, service_id: str, changes: dict, extra: dict | None = None) -> Service:
    service = get_service(db, service_id)
    for key in ("type", "name", "description", "enabled"):
        if key in changes:
            setattr(service, key, changes[key] if changes[key] is not None else "")
    if extra:
        service.extra = {**(service.extra or {}), **extra}
    db.flush()
    return service


def delete_service(db: Session, service_id: str) -> None:
    """Delete a service and its endpoints."""
    service = get_service(db, service_id)
    db.execute(sa.delete(Endpoint).where(Endpoint.service_id == service.id))
    db.delete(service)
    db.flush()


# -- endpoints ---------------------------------------------------------------

def get_endpoint(db: Session, endpoint_id: str) -> Endpoint:
    return get_or_404(db, Endpoint, endpoint_id, "endpoint")


def list_endpoints(db: Session, query_filters: dict) -> list[Endpoint]:
    query = filters.apply(sa.select(Endpoint), ENDPOINT_FILTERS, query_filters)
    return list(db.scalars(query.order_by(Endpoint.service_id, Endpoint.interface, Endpoint.id)))


def check_url(url: str) -> None:
    """Only the substitutions Keystone knows may appear in an endpoint URL."""
    for name in _SUBSTITUTION.findall(url):
        if name not in URL_SUBSTITUTIONS:
            raise BadRequest(f"Cannot create an endpoint with an invalid URL: {url}.")
    if "$(" in _SUBSTITUTION.sub("", url):
        raise BadRequest(f"Cannot create an endpoint with an invalid URL: {url}.")


def _resolve_region(db: Session, values: dict) -> None:
    """``region_id`` must name a region; the legacy ``region`` is used as the id and created if missing."""
    legacy = values.pop("region", None)
    if values.get("region_id") is None and legacy is not None:
        values["region_id"] = legacy
        if db.get(Region, legacy) is None:
            create_region(db, id=legacy)
    elif values.get("region_id") is not None and db.get(Region, values["region_id"]) is None:
        raise BadRequest("Expecting to find endpoint region_id in region table. The server could not comply"
                         " with the request since it is either malformed or otherwise incorrect.")


def _check_service(db: Session, service_id: str) -> None:
    if db.get(Service, service_id) is None:
        raise BadRequest("Expecting to find endpoint service_id in service table. The server could not comply"
                         " with the request since it is either malformed or otherwise incorrect.")


def create_endpoint(db: Session, values: dict, extra=None) -> Endpoint:
    """``values``: service_id, interface, url, and optionally region_id/region and enabled."""
    values = dict(values)
    check_url(values["url"])
    _resolve_region(db, values)
    _check_service(db, values["service_id"])
    endpoint = Endpoint(service_id=values["service_id"], interface=values["interface"],
                        region_id=values.get("region_id"), url=values["url"],
                        enabled=values.get("enabled", True), extra=extra or {})
    db.add(endpoint)
    db.flush()
    return endpoint


def update_endpoint(db: Session, endpoint_id: str, changes: dict, extra: dict | None = None) -> Endpoint:
    endpoint = get_endpoint(db, endpoint_id)
    changes = dict(changes)
    if "url" in changes:
        check_url(changes["url"])
    if "region" in changes or "region_id" in changes:
        _resolve_region(db, changes)
    if "service_id" in changes:
        _check_service(db, changes["service_id"])
    for key in ("service_id", "interface", "region_id", "url", "enabled"):
        if key in changes:
            setattr(endpoint, key, changes[key])
    if extra:
        endpoint.extra = {**(endpoint.extra or {}), **extra}
    db.flush()
    return endpoint


def delete_endpoint(db: Session, endpoint_id: str) -> None:
    db.delete(get_endpoint(db, endpoint_id))
    db.flush()

