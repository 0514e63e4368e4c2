"""The two small bootable images a fresh cloud registers: a busybox root filesystem as a tar.

Built from Debian's busybox-static (``/bin/busybox``): the binary and its applet
links under /bin and /sbin, /etc/passwd, /etc/group, /etc/hostname, empty
/proc /sys /dev /tmp /root /run, and a marker file naming the image (so
``busybox`` and ``busybox-alt`` differ in bytes as well as in id). The tar is
deterministic (fixed times and owners), so restarts store the same bytes. Without
busybox the images are still registered (a tar holding the marker and the
skeleton) so the simulated backend and Tempest have images to use.

With Debian's dropbear-bin on the host, the images also hold an SSH server: ``/usr/sbin/dropbear``
and the shared libraries it loads (at the paths ``ldd`` names), and an ``/etc/rc.local`` (which
Kumo's init runs at boot) starting it on port 22; host keys are made at the first connection (``-R``),
so each instance has its own, and the keys the server was given are ``/root/.ssh/authorized_keys``.
A small ``/usr/bin/lsblk`` lists the disks the instance was given (``/dev/vd?``...), as util-linux would.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import tarfile
from pathlib import Path

import sqlalchemy as sa

from kumo.image import data, images
from kumo.image.models import Image, ImageProperty

log = logging.getLogger("kumo.image")

BUSYBOX = Path("/bin/busybox")
DROPBEAR = Path("/usr/sbin/dropbear")
RC_LOCAL = b"""#!/bin/sh
# Kumo's builtin image: an SSH server for the keys the instance was given (/root/.ssh/authorized_keys)
[ -x /usr/sbin/dropbear ] || exit 0
mkdir -p /etc/dropbear
exec /usr/sbin/dropbear -F -E -R -p 22
"""
# util-linux's lsblk, for the disks the instance was given (busybox has none; Tempest counts disks with it)
LSBLK = rb"""#!/bin/sh
row() { printf '%-8s %7s %2s %14s %2s %-4s %s\n' "$@"; }
row NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINTS
for dev in /dev/vd? /dev/sd? /dev/xvd?; do
    [ -b "$dev" ] || continue
    ro=0; [ "$(blockdev --getro "$dev" 2>/dev/null)" = 1 ] && ro=1
    row "${dev#/dev/}" "$((0x$(stat -c %t "$dev"))):$((0x$(stat -c %T "$dev")))" 0 \
        "$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)" "$ro" disk ""
done
"""
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


def shared_libraries(binary: Path) -> list[Path]:
    """The loader and every library ``binary`` loads, as ``ldd`` names them (none for a static binary)."""
    try:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            found.append(Path(match.group(1)))
    return found


def build_tar(marker: str, busybox: Path = BUSYBOX, dropbear: Path = DROPBEAR) -> bytes:
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
            for folder in ("usr", "usr/bin"):
                add(folder, tarfile.DIRTYPE, 0o755)
            add("usr/bin/lsblk", mode=0o755, content=LSBLK)
        if has_busybox and dropbear.is_file() and os.access(dropbear, os.X_OK):
            libraries = shared_libraries(dropbear)
            folders = {"usr/sbin", "etc/dropbear"}
            for lib in libraries:
                parts = lib.parts[1:-1]
                folders |= {"/".join(parts[:i + 1]) for i in range(len(parts))}
            for folder in sorted(folders):
                add(folder, tarfile.DIRTYPE, 0o700 if folder == "etc/dropbear" else 0o755)
            for lib in libraries:
                add(str(lib)[1:], mode=0o755, content=lib.resolve().read_bytes())
            add("usr/sbin/dropbear", mode=0o755, content=dropbear.read_bytes())
            add("etc/rc.local", mode=0o755, content=RC_LOCAL)
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
