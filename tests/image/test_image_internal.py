"""The contract other services use (``kumo.image.internal``) and the builtin busybox images, in process."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from kumo.config import Settings
from kumo.db import Database
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.image import busybox, internal
from kumo.image.models import Image, ImageMember


@pytest.fixture
def cloud(tmp_path):
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.database)
    db.upgrade()
    yield SimpleNamespace(settings=settings, db=db)
    db.dispose()


def _new(cloud, **kw) -> str:
    args = dict(owner="p1", name="snap", disk_format="raw", container_format="bare",
                properties={"instance_uuid": "abc", "min_ram_hint": 5})
    args.update(kw)
    with cloud.db.session() as db:
        return internal.create_image(cloud, db, **args)


def test_create_image_belongs_to_the_callers_transaction(cloud):
    with pytest.raises(RuntimeError):
        with cloud.db.session() as db:
            image_id = internal.create_image(cloud, db, owner="p1", name="gone", disk_format="raw",
                                             container_format="bare", properties={})
            raise RuntimeError("the caller fails after creating it")
    with cloud.db.session(write=False) as db:
        assert db.get(Image, image_id) is None
    image_id = _new(cloud)
    with cloud.db.session(write=False) as db:
        image = db.get(Image, image_id)
        assert image.status == "queued" and image.visibility == "private" and image.owner == "p1"
        assert image.extra == {"instance_uuid": "abc", "min_ram_hint": "5"}
    with cloud.db.session() as db, pytest.raises(BadRequest):
        internal.create_image(cloud, db, owner="p1", name="x", disk_format="floppy", container_format="bare",
                              properties={})


def test_finish_upload_and_boot_image(cloud, tmp_path):
    source = tmp_path / "rootfs.tar"
    source.write_bytes(os.urandom(70_000))
    image_id = _new(cloud)
    internal.finish_upload(cloud, image_id, source)
    internal.finish_upload(cloud, image_id, source)  # again: already active, nothing to do
    with cloud.db.session(write=False) as db:
        image = db.get(Image, image_id)
        assert image.status == "active" and image.size == 70_000
        assert image.checksum == hashlib.md5(source.read_bytes()).hexdigest()
        boot = internal.boot_image(cloud, db, image_id, "p1")
        assert boot.path.read_bytes() == source.read_bytes() and boot.size == 70_000
        assert (boot.disk_format, boot.container_format, boot.name) == ("raw", "bare", "snap")
        assert boot.properties["instance_uuid"] == "abc"
        with pytest.raises(NotFound):
            internal.boot_image(cloud, db, image_id, "p2")  # private to p1
        with pytest.raises(NotFound):
            internal.boot_image(cloud, db, "00000000-0000-0000-0000-000000000000", "p1")
    with cloud.db.session() as db:
        db.add(ImageMember(image_id=image_id, member_id="p2"))
        db.get(Image, image_id).visibility = "shared"
    with cloud.db.session(write=False) as db:
        assert internal.boot_image(cloud, db, image_id, "p2").id == image_id
    queued = _new(cloud)
    with cloud.db.session(write=False) as db, pytest.raises(BadRequest):
        internal.boot_image(cloud, db, queued, "p1")


def test_finish_upload_failure_kills_the_image(cloud, tmp_path):
    image_id = _new(cloud)
    with pytest.raises(BadRequest):
        internal.finish_upload(cloud, image_id, tmp_path / "missing.tar")
    with cloud.db.session(write=False) as db:
        assert db.get(Image, image_id).status == "killed"
    with pytest.raises(Conflict):
        internal.finish_upload(cloud, image_id, tmp_path / "missing.tar")
    assert not list((Path(cloud.settings.data_dir) / "images" / "tmp").iterdir())


def test_busybox_registration_is_idempotent(cloud):
    first = busybox.register(cloud)
    assert len(first) == 2 and busybox.register(cloud) == []
    with cloud.db.session(write=False) as db:
        images = [db.get(Image, i) for i in first]
        assert sorted(i.name for i in images) == ["busybox", "busybox-alt"]
        assert {i.status for i in images} == {"active"} and {i.visibility for i in images} == {"public"}
        assert images[0].checksum != images[1].checksum


def test_busybox_tar_without_busybox(tmp_path):
    content = busybox.build_tar("busybox-alt", busybox=tmp_path / "no-busybox")
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        names = set(tar.getnames())
        assert "bin/busybox" not in names and {"etc/passwd", "tmp", "proc"} <= names
        assert tar.extractfile("etc/kumo-image").read().startswith(b"busybox-alt\n")
        assert tar.getmember("tmp").mode == 0o1777
    assert busybox.build_tar("busybox-alt", busybox=tmp_path / "no-busybox") == content  # deterministic
