"""Glance v2 over HTTP, mounted at ``/image`` (the catalog URL is unversioned; the API is under ``/v2``)."""

from kumo.api.service import ServiceInfo
from kumo.image.http import discovery, images, members  # noqa: F401
from kumo.image.http.common import router


def on_start(cloud) -> None:
    """Recover uploads cut short by a crash, clean the store, register the busybox images when missing."""
    from kumo.image import busybox, data

    data.sweep(cloud)
    busybox.register(cloud)


def counts(db) -> dict:
    import sqlalchemy as sa

    from kumo.image.models import Image
    return {"images": db.scalar(sa.select(sa.func.count()).select_from(Image))}


SERVICE = ServiceInfo.of(__name__, router, on_start=on_start, counts=counts)
