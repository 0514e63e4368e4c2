"""Cinder v3 over HTTP, mounted at ``/volume`` (catalog URL ``/volume/v3/$(project_id)s``)."""

from kumo.api.service import ServiceInfo
from kumo.volume.http import (  # noqa: F401
    actions,
    attachments,
    default_types,
    misc,
    snapshots,
    types,
    versions,
    volumes,
)
from kumo.volume.http.common import router
from kumo.volume.worker import on_start


def counts(db) -> dict:
    import sqlalchemy as sa

    from kumo.volume.models import Volume
    return {"volumes": db.scalar(sa.select(sa.func.count()).select_from(Volume))}


SERVICE = ServiceInfo.of(__name__, router, on_start=on_start, counts=counts)
