"""The two small bootable images a fresh cloud registers: a busybox root filesystem as a tar.

Built from Debian's busybox-static (``/bin/busybox``): the binary and its applet
links under /bin and /sbin, /etc/passwd, /etc/group, /etc/hostname, empty
/proc /sys /dev /tmp /root /run, and a marker file naming the image (so
``busybox`` and ``busybox-alt`` differ in bytes as well as in id). The tar is
deterministic (fixed times and owners), so restarts store the same bytes. Without
busybox the images are still registered (a tar holding the marker and the
skeleton) so the simulated backend and Tempest have images to use.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import tarfile
from pathlib import Path

import sqlalchemy as sa

from kumo.image import data, images
from kumo.image.models import Image, ImageProperty

log = logging.getLogger("kumo.image")

BUSYBOX = Path("/bin/busybox")
NAMES = ("busybox", "busybox-alt")
MARKER_PROPERTY = "kumo_builtin"
MTIME = 1_700_000_000


def applets(busybox: Path = BUSYBOX) -> list[str]:
    """Paths such as ``bin/sh`` and ``sbin/init`` for every applet (usr/ folded into / )."""
    try:
        out = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, timeout=10,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = set()
    for line in out.split():
        line = line.strip("/")
        if line.startswith("usr/"):
            line = line[4:]
        if line.startswith(("bin/", "sbin/")) and line.count("/") == 1 and line != "bin/busybox":
            paths.add(line)
    return sorted(paths)


def build_tar(marker: str, busybox: Path = BUSYBOX) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def add(name: str, kind=tarfile.REGTYPE, mode=0o644, content: bytes = b"", link: str = ""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, MTIME, 0, 0
            info.uname = info.gname = "root"
            info.linkname = link
            info.size = len(content) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)

        for folder, mode in (("bin", 0o755), ("sbin", 0o755), ("etc", 0o755), ("proc", 0o555), ("sys", 0o555),
                             ("dev", 0o755), ("tmp", 0o1777), ("root", 0o700), ("run", 0o755)):
            add(folder, tarfile.DIRTYPE, mode)
        has_busybox = busybox.is_file() and os.access(busybox, os.X_OK)
        if has_busybox:
            add("bin/busybox", mode=0o755, content=busybox.read_bytes())
            for applet in applets(busybox):
                add(applet, tarfile.SYMTYPE, 0o777, link="busybox" if applet.startswith("bin/") else "../bin/busybox")
        add("etc/passwd", content=b"root:x:0:0:root:/root:/bin/sh\n")
        add("etc/group", content=b"root:x:0:\n")
        add("etc/hostname", content=b"kumo\n")
        add("etc/kumo-image", content=f"{marker}\n".encode()
            + (b"" if has_busybox else b"no busybox on the host: this image does not boot\n"))
    return buf.getvalue()


def _admin_project(db) -> str | None:
    try:
        from kumo.identity.models import Project

        return db.scalar(sa.select(Project.id).where(Project.name == "admin", Project.domain_id == "default"))
    except Exception:  # identity not ready: the images are then owned by no project, which Glance allows
        return None


def register(cloud) -> list[str]:
    """Register each builtin image that is missing (a fresh cloud, or one an admin deleted); return new ids."""
    created = []
    for name in NAMES:
        with cloud.db.session() as db:
            exists = db.scalar(sa.select(Image.id).join(ImageProperty).where(
                ImageProperty.name == MARKER_PROPERTY, ImageProperty.value == name).limit(1))
            if exists:
                continue
            image_id = images.insert(db, image_id=_new_id(), owner=_admin_project(db), view={
                "name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public",
                "min_disk": 0, "min_ram": 0, MARKER_PROPERTY: name, "os_distro": "busybox",
                "description": "A busybox root filesystem (tar) built by Kumo",
            }).id
        data.begin_upload(cloud, image_id)
        data.receive(cloud, image_id, [build_tar(name)], on_failure="killed")
        created.append(image_id)
        log.info("registered image %s (%s)", name, image_id)
    return created


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())
