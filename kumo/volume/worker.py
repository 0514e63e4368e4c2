"""The volume worker: drives the driver toward what the store says (topics ``volume.volume`` and
``volume.snapshot``), and at start reconciles the backend with the store and resumes unfinished work.

Each pass reads the row, does the (slow, idempotent) driver work outside any
transaction, then records the outcome only if the row is still in the status
the pass started from — an admin's reset or force-delete in between wins.
"""

from __future__ import annotations

import logging
import tempfile

import sqlalchemy as sa

from kumo.db import utcnow
from kumo.volume import quota, snapshots, types, volumes
from kumo.volume.driver import build
from kumo.volume.models import Snapshot, Volume

log = logging.getLogger("kumo.volume")

CONNECTED = ("attaching", "in-use", "detaching")


def on_start(cloud) -> None:
    cloud.volume_driver = driver = build(cloud)
    with cloud.db.session() as db:
        types.ensure_default(db)
        vols = list(db.execute(sa.select(Volume.id, Volume.status)))
        snaps = list(db.execute(sa.select(Snapshot.id, Snapshot.status)))
    try:
        driver.reconcile([v for v, _ in vols], [s for s, _ in snaps], [v for v, st in vols if st in CONNECTED])
    except Exception:  # noqa: BLE001 - a broken leftover must not stop the cloud from starting
        log.exception("volume reconcile failed")
    cloud.workers.register("volume.volume", lambda key, payload: handle_volume(cloud, key))
    cloud.workers.register("volume.snapshot", lambda key, payload: handle_snapshot(cloud, key))
    for volume_id, status in vols:
        if status in volumes.TRANSITIONAL:
            cloud.workers.submit("volume.volume", volume_id)
    for snapshot_id, status in snaps:
        if status in snapshots.TRANSITIONAL:
            cloud.workers.submit("volume.snapshot", snapshot_id)


def _finish(cloud, model, ident: str, expected: str, status: str, **changes) -> bool:
    """Record the outcome if the row is still ``expected``; True if it was."""
    with cloud.db.session() as db:
        row = db.get(model, ident, with_for_update=True)
        if row is None or row.status != expected:
            return False
        row.status = status
        row.updated_at = utcnow()
        for key, value in changes.items():
            setattr(row, key, value)
        return True


def handle_volume(cloud, volume_id: str) -> None:
    driver = cloud.volume_driver
    with cloud.db.session(write=False) as db:
        vol = db.get(Volume, volume_id)
        if vol is None:
            return
        status, size, project_id = vol.status, vol.size, vol.project_id
        snapshot_id, source_volid, image_id, upload_image_id = (vol.snapshot_id, vol.source_volid, vol.image_id,
                                                                vol.upload_image_id)
        has_snapshots = db.scalar(sa.select(Snapshot.id).where(Snapshot.volume_id == volume_id).limit(1))
        attached = any(a.attach_status == "attached" for a in vol.attachments)
        reserved = any(a.attach_status == "reserved" for a in vol.attachments)
    if status == "creating":
        try:
            if snapshot_id:
                driver.create_from_snapshot(snapshot_id, volume_id, size)
            elif source_volid:
                driver.clone(source_volid, volume_id, size)
            elif image_id:
                with cloud.db.session(write=False) as db:
                    from kumo.image import internal
                    image = internal.boot_image(cloud, db, image_id, project_id)
                driver.copy_from_file(volume_id, image.path, size)
            else:
                driver.create(volume_id, size)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: create failed", volume_id)
            _quietly(driver.delete, volume_id)
            _finish(cloud, Volume, volume_id, "creating", "error")
            return
        if not _finish(cloud, Volume, volume_id, "creating", "available"):
            _drop_if_gone(cloud, driver, volume_id)
    elif status == "deleting":
        if has_snapshots:
            return  # the snapshot worker comes back here when the last one is gone
        try:
            driver.delete(volume_id)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: delete failed", volume_id)
            _finish(cloud, Volume, volume_id, "deleting", "error_deleting")
            return
        with cloud.db.session() as db:
            vol = db.get(Volume, volume_id, with_for_update=True)
            if vol is not None and vol.status == "deleting":
                quota.release(db, vol.project_id, volumes=1, gigabytes=vol.size)
                db.delete(vol)
    elif status == "extending":
        try:
            driver.extend(volume_id, size)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: extend failed", volume_id)
            _finish(cloud, Volume, volume_id, "extending", "error_extending")
            return
        _finish(cloud, Volume, volume_id, "extending", "in-use" if attached else "available")
    elif status == "reverting":
        _revert(cloud, driver, volume_id)
    elif status == "downloading":
        try:
            with cloud.db.session(write=False) as db:
                from kumo.image import internal
                image = internal.boot_image(cloud, db, image_id, project_id)
            driver.reimage(volume_id, image.path, size)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: reimage from %s failed", volume_id, image_id)
            _finish(cloud, Volume, volume_id, "downloading", "error")
            return
        _finish(cloud, Volume, volume_id, "downloading", "reserved" if reserved else "available")
    elif status == "uploading":
        try:
            _upload(cloud, driver, volume_id, upload_image_id)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: upload to image %s failed", volume_id, upload_image_id)
        _finish(cloud, Volume, volume_id, "uploading", "in-use" if attached else "available", upload_image_id=None)


def _revert(cloud, driver, volume_id: str) -> None:
    """The volume back to its snapshot being restored; both end available (the volume in error if the
    backend failed)."""
    with cloud.db.session(write=False) as db:
        snapshot_id = db.scalar(sa.select(Snapshot.id).where(Snapshot.volume_id == volume_id,
                                                             Snapshot.status == "restoring"))
    ok = snapshot_id is not None
    if ok:
        try:
            driver.revert_to_snapshot(volume_id, snapshot_id)
        except Exception:  # noqa: BLE001
            log.exception("volume %s: revert to snapshot %s failed", volume_id, snapshot_id)
            ok = False
    if _finish(cloud, Volume, volume_id, "reverting", "available" if ok else "error") and snapshot_id:
        _finish(cloud, Snapshot, snapshot_id, "restoring", "available")


def _upload(cloud, driver, volume_id: str, image_id: str) -> None:
    from kumo.image import internal

    tmp_dir = cloud.settings.data_dir / "volumes" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        target = tmp_dir / tmp / "volume.raw"
        driver.copy_to_file(volume_id, target)
        internal.finish_upload(cloud, image_id, target)


def handle_snapshot(cloud, snapshot_id: str) -> None:
    driver = cloud.volume_driver
    with cloud.db.session(write=False) as db:
        snap = db.get(Snapshot, snapshot_id)
        if snap is None:
            return
        status, volume_id = snap.status, snap.volume_id
    if status == "creating":
        try:
            driver.snapshot(volume_id, snapshot_id)
        except Exception:  # noqa: BLE001
            log.exception("snapshot %s: create failed", snapshot_id)
            _quietly(driver.delete_snapshot, snapshot_id)
            _finish(cloud, Snapshot, snapshot_id, "creating", "error")
            return
        _finish(cloud, Snapshot, snapshot_id, "creating", "available")
    elif status == "deleting":
        try:
            driver.delete_snapshot(snapshot_id)
        except Exception:  # noqa: BLE001
            log.exception("snapshot %s: delete failed", snapshot_id)
            _finish(cloud, Snapshot, snapshot_id, "deleting", "error_deleting")
            return
        volume_deleting = False
        with cloud.db.session() as db:
            snap = db.get(Snapshot, snapshot_id, with_for_update=True)
            if snap is not None and snap.status == "deleting":
                quota.release(db, snap.project_id, snapshots=1, gigabytes=snap.size)
                db.delete(snap)
                vol = db.get(Volume, volume_id)
                volume_deleting = vol is not None and vol.status == "deleting"
        if volume_deleting:
            cloud.workers.submit("volume.volume", volume_id)


def _drop_if_gone(cloud, driver, volume_id: str) -> None:
    with cloud.db.session(write=False) as db:
        gone = db.get(Volume, volume_id) is None
    if gone:
        _quietly(driver.delete, volume_id)


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        log.exception("cleanup %s%s failed", getattr(fn, "__name__", fn), args)
