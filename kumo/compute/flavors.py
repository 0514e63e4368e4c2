"""Flavors: the defaults every cloud has, admin create/delete, extra specs and access to private ones."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute.models import Flavor, FlavorAccess
from kumo.db.pagination import paginate
from kumo.errors import BadRequest, Conflict, NotFound

# Nova's classic flavors (ids "1".."5") plus small ones that suit containers.
DEFAULTS = [
    ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20), ("3", "m1.medium", 4096, 2, 40),
    ("4", "m1.large", 8192, 4, 80), ("5", "m1.xlarge", 16384, 8, 160),
    ("6", "c1.nano", 64, 1, 1), ("7", "c1.micro", 128, 1, 1), ("8", "c1.small", 256, 2, 1),
]

SORT_COLUMNS = {"flavorid": Flavor.id, "id": Flavor.id, "name": Flavor.name, "memory_mb": Flavor.ram,
                "ram": Flavor.ram, "vcpus": Flavor.vcpus, "root_gb": Flavor.disk, "disk": Flavor.disk,
                "ephemeral_gb": Flavor.ephemeral, "swap": Flavor.swap, "rxtx_factor": Flavor.rxtx_factor,
                "created_at": Flavor.created_at}


def seed(db: Session) -> None:
    if db.scalar(sa.select(sa.func.count()).select_from(Flavor)):
        return
    for fid, name, ram, vcpus, disk in DEFAULTS:
        db.add(Flavor(id=fid, name=name, ram=ram, vcpus=vcpus, disk=disk))
    db.flush()


def visible(db: Session, flavor: Flavor, project_id: str | None, is_admin: bool) -> bool:
    if flavor.is_public or is_admin:
        return True
    return project_id is not None and db.get(FlavorAccess, (flavor.id, project_id)) is not None


def get(db: Session, flavor_id: str, project_id: str | None = None, is_admin: bool = True) -> Flavor:
    flavor = db.get(Flavor, flavor_id)
    if flavor is None or not visible(db, flavor, project_id, is_admin):
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def list_(db: Session, *, project_id: str | None, is_admin: bool, is_public: str | None = None,
          min_ram: int | None = None, min_disk: int | None = None, sort=None, limit=None, marker=None):
    query = sa.select(Flavor).where(Flavor.disabled.is_(False))
    # Nova: non-admins see public flavors plus private ones shared with them; admins see what is_public says
    if is_admin:
        if is_public in (None, "true", "True", "1", "yes"):
            query = query.where(Flavor.is_public.is_(True))
        elif is_public in ("false", "False", "0", "no"):
            query = query.where(Flavor.is_public.is_(False))
    else:
        shared = sa.select(FlavorAccess.flavor_id).where(FlavorAccess.project_id == (project_id or ""))
        query = query.where(sa.or_(Flavor.is_public.is_(True), Flavor.id.in_(shared)))
    if min_ram is not None:
        query = query.where(Flavor.ram >= min_ram)
    if min_disk is not None:
        query = query.where(Flavor.disk >= min_disk)
    marker_error = BadRequest(f"marker [{marker}] not found") if marker else None
    return paginate(db, query, Flavor, SORT_COLUMNS, sort or [("id", False)], limit, marker, marker_error)


def create(db: Session, *, name: str, ram: int, vcpus: int, disk: int, flavor_id: str | None = None,
           ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0, is_public: bool = True,
           description: str | None = None) -> Flavor:
    flavor_id = flavor_id or str(uuid.uuid4())
    if db.get(Flavor, flavor_id) is not None:
        raise Conflict(f"Flavor with ID {flavor_id} already exists.")
    if db.scalar(sa.select(Flavor.id).where(Flavor.name == name)) is not None:
        raise Conflict(f"Flavor with name {name} already exists.")
    flavor = Flavor(id=flavor_id, name=name, ram=ram, vcpus=vcpus, disk=disk, ephemeral=ephemeral, swap=swap,
                    rxtx_factor=rxtx_factor, is_public=is_public, description=description)
    db.add(flavor)
    db.flush()
    return flavor


def delete(db: Session, flavor_id: str) -> None:
    flavor = db.get(Flavor, flavor_id)
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    db.execute(sa.delete(FlavorAccess).where(FlavorAccess.flavor_id == flavor_id))
    db.delete(flavor)
    db.flush()


def set_extra_specs(db: Session, flavor: Flavor, specs: dict) -> dict:
    flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    db.flush()
    return flavor.extra_specs


def set_description(db: Session, flavor: Flavor, description: str | None) -> None:
    flavor.description = description
    db.flush()


def delete_extra_spec(db: Session, flavor: Flavor, key: str) -> None:
    specs = dict(flavor.extra_specs or {})
    if key not in specs:
        raise NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
    del specs[key]
    flavor.extra_specs = specs
    db.flush()


def access_list(db: Session, flavor: Flavor) -> list[str]:
    if flavor.is_public:
        raise NotFound("Access list not available for public flavors.")
    return list(db.scalars(sa.select(FlavorAccess.project_id).where(FlavorAccess.flavor_id == flavor.id)
                           .order_by(FlavorAccess.project_id)))


def add_access(db: Session, flavor: Flavor, project_id: str) -> list[str]:
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    if db.get(FlavorAccess, (flavor.id, project_id)) is not None:
        raise Conflict(f"Flavor access already exists for flavor {flavor.id} and project {project_id} "
                       "combination.")
    db.add(FlavorAccess(flavor_id=flavor.id, project_id=project_id))
    db.flush()
    return access_list(db, flavor)


def remove_access(db: Session, flavor: Flavor, project_id: str) -> list[str]:
    row = db.get(FlavorAccess, (flavor.id, project_id))
    if row is None:
        raise NotFound(f"Flavor access not found for {flavor.id} / {project_id} combination.")
    db.delete(row)
    db.flush()
    return access_list(db, flavor)


def snapshot(flavor: Flavor) -> dict:
    """What a server keeps of its flavor (it survives the flavor's deletion)."""
    return {"id": flavor.id, "name": flavor.name, "ram": flavor.ram, "vcpus": flavor.vcpus, "disk": flavor.disk,
            "ephemeral": flavor.ephemeral, "swap": flavor.swap, "extra_specs": dict(flavor.extra_specs or {})}
