"""Glance v2 through the stock clients: the ``openstack`` CLI and openstacksdk."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import openstack.exceptions
import pytest

from tests.image.conftest import unique


def test_cli_image_lifecycle(cloud, tenants, tmp_path):
    """create --file, list --long, set, show, add project, save --file, delete: one CLI call each (the CLI
    is slow to start, so the checks in between use raw HTTP)."""
    other = tenants()
    content = os.urandom(256 * 1024 + 7)
    source = tmp_path / "disk.raw"
    source.write_bytes(content)
    name = unique("cli")
    made = cloud.openstack("image", "create", "--file", str(source), "--disk-format", "raw",
                           "--container-format", "bare", "--property", "distro=kumo", "--tag", "blue",
                           "--shared", name, "-f", "json")
    image_id = made["id"]
    try:
        assert made["status"] == "active" and made["size"] == len(content)
        assert made["checksum"] == hashlib.md5(content).hexdigest()
        listed = cloud.openstack("image", "list", "--long", "--name", name, "-f", "json")
        assert [(i["ID"], i["Checksum"], i["Status"], i["Visibility"], i["Tags"]) for i in listed] == \
            [(image_id, made["checksum"], "active", "shared", ["blue"])]
        cloud.openstack("image", "set", "--property", "arch=x86_64", "--name", name + "-x", "--min-ram", "128",
                        image_id)
        shown = cloud.openstack("image", "show", image_id, "-f", "json")
        assert shown["name"] == name + "-x" and shown["min_ram"] == 128
        assert shown["properties"]["arch"] == "x86_64" and shown["properties"]["distro"] == "kumo"
        assert shown["properties"]["os_hash_value"] == hashlib.sha512(content).hexdigest()
        # share it with another project, which accepts it
        member = cloud.openstack("image", "add", "project", image_id, other.project_id, "-f", "json")
        assert member["status"] == "pending"
        assert other.member.get(f"/images/{image_id}").status_code == 200
        assert image_id not in {i["id"] for i in other.member.get("/images").json()["images"]}
        assert other.member.put(f"/images/{image_id}/members/{other.project_id}",
                                json={"status": "accepted"}).json()["status"] == "accepted"
        assert image_id in {i["id"] for i in other.member.get("/images").json()["images"]}
        saved = tmp_path / "saved.raw"
        cloud.openstack("image", "save", "--file", str(saved), image_id)
        assert saved.read_bytes() == content
    finally:
        cloud.openstack("image", "delete", image_id)
    assert cloud.sdk().image.find_image(image_id) is None
    assert other.member.get(f"/images/{image_id}").status_code == 404


def test_sdk_upload_download_verifies_checksums(cloud):
    conn = cloud.sdk()
    content = os.urandom(3 * 1024 * 1024 + 11)
    image = conn.image.create_image(name=unique("sdk"), data=content, disk_format="raw",
                                    container_format="bare", validate_checksum=True, wait=True)
    try:
        image = conn.image.get_image(image.id)
        assert image.status == "active" and image.size == len(content)
        assert image.checksum == hashlib.md5(content).hexdigest()
        assert image.hash_algo == "sha512" and image.hash_value == hashlib.sha512(content).hexdigest()
        assert conn.image.download_image(image).content == content
        out = io.BytesIO()
        conn.image.download_image(image, output=out, chunk_size=65536)
        assert out.getvalue() == content
        # the client checks what it receives against the image's hash: corrupt the stored bytes
        blob = _blob(cloud, image.hash_value)
        os.chmod(blob, 0o644)
        blob.write_bytes(b"x" + content[1:])
        with pytest.raises(openstack.exceptions.SDKException):
            conn.image.download_image(image, output=io.BytesIO())
    finally:
        conn.image.delete_image(image.id)
    assert not _blob(cloud, image.hash_value).exists()  # its bytes went with the only image holding them


def _blob(cloud, sha512: str) -> Path:
    return cloud.server.data_dir / "images" / sha512[:2] / sha512


def test_builtin_busybox_images(cloud):
    conn = cloud.sdk()
    found = {i.name: i for i in conn.image.images(visibility="public") if i.name in ("busybox", "busybox-alt")}
    assert set(found) == {"busybox", "busybox-alt"}
    plain, alt = found["busybox"], found["busybox-alt"]
    assert plain.id != alt.id and plain.checksum != alt.checksum
    for image in (plain, alt):
        assert image.status == "active" and image.disk_format == "raw" and image.container_format == "bare"
    with tarfile.open(fileobj=io.BytesIO(conn.image.download_image(plain).content)) as tar:
        names = set(tar.getnames())
        assert {"etc/passwd", "etc/group", "etc/hostname", "proc", "sys", "dev", "tmp", "root", "run"} <= names
        assert tar.extractfile("etc/kumo-image").read().startswith(b"busybox\n")
        if shutil.which("busybox") or Path("/bin/busybox").exists():
            assert tar.getmember("bin/busybox").isfile()
            assert tar.getmember("bin/sh").issym() and tar.getmember("sbin/init").issym()
