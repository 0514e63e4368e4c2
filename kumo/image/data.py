"""Image data: upload (queued → saving → active), download, and keeping the store consistent.

An upload runs in three short steps, never holding a database transaction
while bytes flow: mark the image ``saving`` (only from ``queued``: a second
upload is a 409); stream into the store (hashing as it goes); then, under the
store lock, record size, checksums and location and move the bytes into place
in one transaction. If the stream fails, the image goes back to ``queued``
(Glance's behaviour for the API; ``killed`` for uploads done by workers); if the
image was deleted meanwhile the bytes are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, Forbidden, Gone, KumoError, RangeNotSatisfiable
from kumo.image import store as image_store
from kumo.image.images import OverLimit, get
from kumo.image.models import Image

log = logging.getLogger("kumo.image")

SIZE_CAP = 1 << 40  # Glance's image_size_cap: 1 TiB


def store(cloud) -> image_store.ImageStore:
    return image_store.for_cloud(cloud)


def begin_upload(cloud, image_id: str, *, allow_saving: bool = False) -> None:
    """queued → saving, in its own transaction."""
    with cloud.db.session() as db:
        image = get(db, image_id, for_update=True)
        if image.status != "queued" and not (allow_saving and image.status == "saving"):
            raise Conflict(f"Image status transition from {image.status} to saving is not allowed")
        if not image.disk_format or not image.container_format:
            raise BadRequest("Properties disk_format, container_format must be set prior to saving data.")
        image.status, image.updated_at = "saving", utcnow()


def receive(cloud, image_id: str, chunks: Iterable[bytes], *, on_failure: str = "queued") -> Image:
    """Stream ``chunks`` into the store and activate the image (which ``begin_upload`` set saving)."""
    the_store = store(cloud)
    try:
        staged = the_store.put(chunks, max_size=SIZE_CAP)
    except image_store.TooLarge as exc:
        fail(cloud, image_id, on_failure)
        raise OverLimit(str(exc)) from None
    except BaseException as exc:
        fail(cloud, image_id, on_failure)
        if isinstance(exc, KumoError):
            raise
        if isinstance(exc, Exception):
            log.warning("upload of image %s failed: %s %s", image_id, type(exc).__name__, exc)
            raise BadRequest(f"Error in uploading the image data: {type(exc).__name__}") from None
        raise
    try:
        with the_store.lock(), cloud.db.session() as db:
            image = db.scalars(sa.select(Image).where(Image.id == image_id).with_for_update()).first()
            if image is None or image.status != "saving":
                the_store.abort(staged)
                raise Gone(f"Image {image_id} could not be found after upload. The image may have been "
                           "deleted during the upload.")
            image.size, image.checksum = staged.size, staged.checksum
            image.os_hash_algo, image.os_hash_value = image_store.HASH_ALGO, staged.os_hash_value
            image.virtual_size = staged.size if image.disk_format == "raw" else None
            image.location, image.status, image.updated_at = staged.location, "active", utcnow()
            db.flush()
            the_store.commit(staged)
    except BaseException as exc:
        the_store.abort(staged)
        discard(cloud, staged.location)  # committed into place but not recorded: drop it again
        if not isinstance(exc, Gone):
            fail(cloud, image_id, on_failure)
        raise
    return image


def fail(cloud, image_id: str, status: str) -> None:
    """saving → ``status`` (queued or killed) after a failed upload."""
    with cloud.db.session() as db:
        image = db.scalars(sa.select(Image).where(Image.id == image_id).with_for_update()).first()
        if image is not None and image.status == "saving":
            image.status, image.updated_at = status, utcnow()


def discard(cloud, location: str) -> None:
    """Remove the bytes at ``location`` unless an image still refers to them."""
    def in_use(loc: str) -> bool:
        with cloud.db.session(write=False) as db:
            return db.scalar(sa.select(sa.func.count()).select_from(Image).where(Image.location == loc)) > 0

    store(cloud).discard_if_unused(location, in_use)


def sweep(cloud) -> int:
    """After a crash: uploads cut short go back to queued; stray files and unreferenced bytes go."""
    with cloud.db.session() as db:
        for image in db.scalars(sa.select(Image).where(Image.status == "saving")):
            image.status, image.updated_at = "queued", utcnow()

    def in_use() -> set[str]:
        with cloud.db.session(write=False) as db:
            return set(db.scalars(sa.select(Image.location).where(Image.location.is_not(None))))

    return store(cloud).sweep(in_use)


@dataclass(frozen=True)
class Download:
    chunks: Iterator[bytes] | None  # None: the image has no data
    size: int
    checksum: str | None
    content_range: str | None = None


def download(cloud, image: Image, is_admin: bool, range_header: str | None = None) -> Download:
    if image.status == "deactivated" and not is_admin:
        raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
    if not image.location:
        return Download(None, 0, None)
    size = image.size or 0
    start, end = _range(range_header, size)
    if start is None:
        return Download(store(cloud).open(image.location), size, image.checksum)
    return Download(store(cloud).open(image.location, start, end - start + 1), end - start + 1, image.checksum,
                    f"bytes {start}-{end}/{size}")


def _range(header: str | None, size: int) -> tuple[int | None, int | None]:
    """One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range; anything else serves the whole image."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None, None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(size - length, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        return None, None
    if start >= size or start > end or start < 0:
        raise RangeNotSatisfiable(f"Requested range not satisfiable: {header}")
    return start, min(end, size - 1)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(image_store.CHUNK):
            yield chunk
