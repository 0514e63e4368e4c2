"""Root filesystems for local instances: the shared read-only image cache, mounts, snapshots.

An image is unpacked (a tar) or loop-mounted read-only (ext4, squashfs) once, under
``<data_dir>/image-cache/<key>/root``, and shared as the lower layer of every instance's
overlay; the instance's writes go to its own upper directory. Formats are detected from the
bytes, never trusted from the image's declared disk_format.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import threading
import uuid as uuidlib
from pathlib import Path

from kumo.compute.driver import DriverError

MNT_DETACH = 2
MS_BIND = 4096
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def mount(source: str, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def umount(target: str) -> None:
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
            raise OSError(err, f"umount {target}: {os.strerror(err)}")


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape").encode("latin-1").decode(errors="surrogateescape") \
        if "\\" in field else field


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = _unescape(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def unmount_all(path: Path) -> None:
    for point in mounts_under(path):
        umount(point)


def is_mounted(path: Path) -> bool:
    return str(path) in mounts_under(path)


def holds_other_fs(path: Path) -> bool:
    """Whether ``path`` is on another file system than its directory: a mount of a different file
    system there (the runtime tmpfs, a network namespace's nsfs file). Two stats, where ``is_mounted``
    reads the whole mount table (hundreds of lines with many instances)."""
    try:
        return os.stat(path).st_dev != os.stat(Path(path).parent).st_dev
    except OSError:
        return False


# -- formats -------------------------------------------------------------------------------

def detect(path: Path) -> str:
    """``tar`` (maybe compressed), ``ext4`` or ``squashfs``, from the bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2048)
    except OSError as exc:
        raise DriverError(f"Cannot read the image at {path}: {exc.strerror}.") from None
    if head[:4] in (b"hsqs", b"sqsh"):
        return "squashfs"
    if len(head) >= 1082 and head[1080:1082] == b"\x53\xef":
        return "ext4"
    if head[257:262] == b"ustar":
        return "tar"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
            or head[:4] == b"\x28\xb5\x2f\xfd":
        return "tar"  # compressed: GNU tar finds out which
    raise DriverError("The image is not a bootable root filesystem (a tar, ext4 or squashfs image).")


# -- the image cache -----------------------------------------------------------------------

class ImageCache:
    def __init__(self, root: Path):
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @staticmethod
    def key(image_file: Path, image_id: str | None) -> str:
        st = os.stat(image_file)
        source = f"{Path(image_file).resolve()}:{st.st_size}:{st.st_mtime_ns}:{image_id or ''}"
        return (image_id + "-" if image_id else "") + hashlib.sha1(source.encode()).hexdigest()[:12]

    def lower(self, image_file: Path, image_id: str | None) -> Path:
        """The read-only root directory of this image, prepared once."""
        try:
            key = self.key(image_file, image_id)
        except OSError as exc:
            raise DriverError(f"Image {image_id or image_file} has no data: {exc.strerror}.") from None
        entry = self.root / key
        root = entry / "root"
        if (entry / "ready").exists() and (entry.joinpath("format").read_text() == "tar" or is_mounted(root)):
            return root
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock(key), open(self.root / f".{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another Kumo process on the same data dir
            kind = detect(image_file)
            if kind == "tar":
                if not (entry / "ready").exists():
                    self._unpack(image_file, entry)
            else:
                root.mkdir(parents=True, exist_ok=True)
                (entry / "format").write_text(kind)
                if not is_mounted(root):
                    proc = subprocess.run(["mount", "-t", kind, "-o", "loop,ro,nodev", str(image_file), str(root)],
                                          capture_output=True, text=True)
                    if proc.returncode != 0:
                        raise DriverError(f"Cannot mount the {kind} image: {proc.stderr.strip()}")
                (entry / "ready").touch()
        return root

    def _unpack(self, image_file: Path, entry: Path) -> None:
        tmp = self.root / f".tmp-{entry.name}-{uuidlib.uuid4().hex[:8]}"
        (tmp / "root").mkdir(parents=True)
        try:
            proc = subprocess.run(["tar", "-x", "-f", str(image_file), "-C", str(tmp / "root"), "--numeric-owner",
                                   "--same-permissions", "--same-owner", "--no-overwrite-dir",
                                   "--delay-directory-restore"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise DriverError(f"Cannot unpack the image: {proc.stderr.strip()[-300:]}")
            (tmp / "root").chmod(0o755)
            (tmp / "format").write_text("tar")
            (tmp / "ready").touch()
            if entry.exists():
                shutil.rmtree(entry)
            os.rename(tmp, entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def sweep(self) -> None:
        """Remove unpacks a crash left half-done (only those no process is working on)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(".tmp-*"):
            key = path.name[len(".tmp-"):].rsplit("-", 1)[0]
            with open(self.root / f".{key}.lock", "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # being unpacked right now
                shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> None:
        """Unmount and remove every cached image (``kumo reset``)."""
        if self.root.exists():
            unmount_all(self.root)
            shutil.rmtree(self.root, ignore_errors=True)


def premake_mountpoints(upper: Path, lower: Path) -> None:
    """In a brand-new upper dir (nothing of the instance's yet, so safe to write from the host),
    make /run/kumo as a copy-up would, which saves the boot a slow copy-up on disk."""
    try:
        st = os.lstat(lower / "run")
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    (upper / "run").mkdir(mode=stat.S_IMODE(st.st_mode))
    os.chown(upper / "run", st.st_uid, st.st_gid)
    os.chmod(upper / "run", stat.S_IMODE(st.st_mode))
    if not (lower / "run" / "kumo").exists():
        (upper / "run" / "kumo").mkdir(mode=0o755)


# -- snapshots -----------------------------------------------------------------------------

_EXCLUDES = ["--anchored", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
             "--exclude=./run/kumo/*", "--exclude=./run/kumo"]


def snapshot_running(pid: int, target: Path) -> None:
    """Tar the live root filesystem of the instance whose init is ``pid`` (seen via /proc)."""
    _tar([f"/proc/{pid}/root"], target)


def snapshot_stopped(inst: Path, rootfs: Path, lower: str, mode: str, target: Path) -> None:
    """Mount the instance's root on ``rootfs`` in a throw-away mount namespace and tar it."""
    mount_cmd = ('mount -o ro "$1" "$0"' if mode == "device"
                 else 'mount -t overlay kumo-snap -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work,volatile" "$0"')
    script = f'set -e; {mount_cmd}; R=$0; shift 2; exec tar -C "$R" "$@"'  # $0 root, $1 lower, $2 inst
    args = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(rootfs), lower, str(inst)]
    _tar(None, target, prefix=args)


def _tar(root: list[str] | None, target: Path, prefix: list[str] | None = None) -> None:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tar_args = ["-c", "-f", str(tmp), "--numeric-owner", "--xattrs", *_EXCLUDES, "."]
    argv = (prefix + tar_args) if prefix else ["tar", "-C", root[0], *tar_args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: a file changed while being read
        tmp.unlink(missing_ok=True)
        raise DriverError(f"Snapshot failed: {proc.stderr.strip()[-300:]}")
    os.replace(tmp, target)

