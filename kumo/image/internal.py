"""What other Kumo services ask of the image service (compute boots and snapshots, volume uploads).

These are the only entry points other services use; they take the caller's
database session where the work belongs to the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from kumo.errors import BadRequest
from kumo.image import data, images, schemas
from kumo.image.models import Image


@dataclass(frozen=True)
class BootImage:
    id: str
    name: str | None
    path: Path  # the bytes, in the image store: read them, never write
    disk_format: str | None
    container_format: str | None
    size: int
    min_disk: int
    min_ram: int
    properties: dict = field(default_factory=dict)


def boot_image(cloud, db: Session, image_id: str, project_id: str | None) -> BootImage:
    """An active image ``project_id`` may boot (``None``: any image). NotFound when unknown or invisible
    to the project; BadRequest when it has no usable data (not active)."""
    image = db.get(Image, image_id) if isinstance(image_id, str) else None
    if image is None or (project_id is not None and not images.can_see(db, None, image, project_id)):
        raise images.not_found(image_id)
    if image.status != "active" or not image.location:
        raise BadRequest(f"Image {image_id} is not active.")
    return BootImage(id=image.id, name=image.name, path=data.store(cloud).path(image.location),
                     disk_format=image.disk_format, container_format=image.container_format,
                     size=image.size or 0, min_disk=image.min_disk, min_ram=image.min_ram,
                     properties=image.extra)


def create_image(cloud, db: Session, *, owner: str | None, name: str, disk_format: str, container_format: str,
                 properties: dict, visibility: str = "private") -> str:
    """A queued image in the caller's transaction (snapshots, volume uploads); its data comes with
    ``finish_upload``. Property values are stored as strings, as Glance does."""
    if disk_format not in schemas.DISK_FORMATS:
        raise BadRequest(f"Invalid disk format '{disk_format}'.")
    if container_format not in schemas.CONTAINER_FORMATS:
        raise BadRequest(f"Invalid container format '{container_format}'.")
    if visibility not in schemas.VISIBILITIES:
        raise BadRequest(f"Invalid visibility '{visibility}'.")
    view = {k: v if isinstance(v, str) else str(v) for k, v in (properties or {}).items()
            if k not in images.BASE and v is not None and 0 < len(k) <= 255}
    for key in ("min_disk", "min_ram"):  # base attributes Nova passes along with a snapshot's properties
        if key in (properties or {}):
            try:
                view[key] = max(int(properties[key] or 0), 0)
            except (TypeError, ValueError):
                raise BadRequest(f"Invalid {key}: {properties[key]!r}.") from None
    view.update(name=name, disk_format=disk_format, container_format=container_format, visibility=visibility)
    image = images.insert(db, image_id=str(uuid.uuid4()), owner=owner, view=view)
    return image.id


def finish_upload(cloud, image_id: str, source: Path) -> None:
    """Copy ``source`` into the store and activate the image (saving → active), in a worker, with its own
    transactions. On failure the image is ``killed``. Calling it again for an active image does nothing."""
    with cloud.db.session(write=False) as db:
        image = db.get(Image, image_id)
        if image is None or image.status == "active":
            return
    data.begin_upload(cloud, image_id, allow_saving=True)
    data.receive(cloud, image_id, data.file_chunks(Path(source)), on_failure="killed")
