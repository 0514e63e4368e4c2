"""The service catalog: regions, services, endpoints."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.identity.models import Endpoint, Region, Service

INTERFACES = ("public", "internal", "admin")


def for_token(db: Session, region: str, project_id: str | None = None) -> list[dict]:
    """The catalog as a token shows it: enabled services with their enabled endpoints."""
    rows = db.execute(
        sa.select(Service, Endpoint).join(Endpoint, Endpoint.service_id == Service.id)
        .where(Service.enabled.is_(True), Endpoint.enabled.is_(True)).order_by(Service.type, Endpoint.interface)
    ).all()
    by_service: dict[str, dict] = {}
    for service, endpoint in rows:
        entry = by_service.setdefault(service.id, {"endpoints": [], "id": service.id, "type": service.type,
                                                   "name": service.name})
        url = endpoint.url
        if project_id:
            url = url.replace("$(project_id)s", project_id).replace("$(tenant_id)s", project_id)
        elif "$(" in url:
            continue  # Keystone leaves out endpoints it cannot complete
        entry["endpoints"].append({"id": endpoint.id, "interface": endpoint.interface,
                                   "region": endpoint.region_id, "region_id": endpoint.region_id, "url": url})
    return [entry for entry in by_service.values() if entry["endpoints"]]


def ensure_region(db: Session, region_id: str) -> None:
    if db.get(Region, region_id) is None:
        db.add(Region(id=region_id, description=""))
        db.flush()


def register(db: Session, *, type: str, name: str, url: str, region: str, description: str = "") -> None:
    """Create or update a Kumo service and its three endpoints (idempotent, run at every start)."""
    ensure_region(db, region)
    service = db.scalars(sa.select(Service).where(Service.type == type, Service.name == name)).first()
    if service is None:
        service = Service(type=type, name=name, description=description, enabled=True)
        db.add(service)
        db.flush()
    existing = {e.interface: e for e in db.scalars(sa.select(Endpoint).where(
        Endpoint.service_id == service.id, Endpoint.region_id == region))}
    for interface in INTERFACES:
        endpoint = existing.get(interface)
        if endpoint is None:
            db.add(Endpoint(service_id=service.id, interface=interface, region_id=region, url=url))
        elif endpoint.url != url:
            endpoint.url = url
    db.flush()
