"""Host-side helpers of the local compute driver: busybox, processes, device nodes, loop devices."""

from __future__ import annotations

import os
import re
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

from kumo.compute.driver import DriverError

DEVICE = re.compile(r"^/dev/([a-z][a-z0-9]{0,31})$")  # a volume's name in the instance's /dev
DEV_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
RESERVED = set(DEV_NODES) | {"console", "pts", "shm", "fd", "ptmx", "stdin", "stdout", "stderr"}


def find_busybox() -> str | None:
    """A statically linked busybox (it runs inside images that have none): Debian's busybox-static."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")):
        if candidate and os.path.isfile(candidate) and is_static(candidate):
            return candidate
    return None


def is_static(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return False
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            fh.seek(phoff)
            table = fh.read(phentsize * phnum)
    except OSError:
        return False
    return all(int.from_bytes(table[i:i + 4], "little") != 3 for i in range(0, len(table), phentsize))  # PT_INTERP


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a process, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def readable(fd: int, timeout: float) -> bool:
    """Wait for ``fd`` (a pipe, or a pidfd: readable once the process exits); poll, not select (fds > 1024)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def syncfs(path: Path) -> None:
    """Write back everything dirty on the filesystem holding ``path`` (an instance's upper dir)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def trim_log(log: Path, limit: int = 4 << 20, keep: int = 1 << 20) -> None:
    """Keep a console log from growing without bound: at boot, cut it to its last ``keep`` bytes."""
    try:
        if log.stat().st_size <= limit:
            return
        with open(log, "rb") as fh:
            fh.seek(-keep, os.SEEK_END)
            tail = fh.read()
    except OSError:
        return
    tmp = log.with_name(log.name + ".tmp")
    tmp.write_bytes(tail[tail.find(b"\n") + 1:])
    os.replace(tmp, log)


def make_dev(dev: Path) -> None:
    for name, (major, minor) in DEV_NODES.items():
        node = dev / name
        try:
            st = os.lstat(node)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor):
                continue
            node.unlink()
        except FileNotFoundError:
            pass
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(node, 0o666)
    console = dev / "console"
    if not (console.exists() and stat.S_ISFIFO(os.lstat(console).st_mode)):
        console.unlink(missing_ok=True)
        os.mkfifo(console, 0o620)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        if not os.path.islink(dev / name):
            (dev / name).unlink(missing_ok=True)
            os.symlink(target, dev / name)
    (dev / "shm").mkdir(mode=0o1777, exist_ok=True)


def device_node_name(device_name: str) -> str:
    match = DEVICE.match(device_name or "")
    if not match or match.group(1) in RESERVED:
        raise DriverError(f"Invalid device name {device_name!r}.")
    return match.group(1)


def make_block_node(dev: Path, device_name: str, major: int, minor: int, read_only: bool) -> None:
    """A volume's block device node in an instance's /dev (live: that /dev is a bind mount)."""
    node = dev / device_node_name(device_name)
    try:
        node.unlink()
    except FileNotFoundError:
        pass
    os.mknod(node, stat.S_IFBLK | (0o440 if read_only else 0o660), os.makedev(major, minor))


def setup_loop(path: Path, read_only: bool) -> str:
    argv = ["losetup", "--find", "--show", *(["--read-only"] if read_only else []), str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DriverError(f"Cannot set up a loop device: {proc.stderr.strip()}")
    return proc.stdout.strip()


def loop_backing(loop: str) -> str | None:
    try:
        return Path(f"/sys/block/{Path(loop).name}/loop/backing_file").read_text().strip()
    except OSError:
        return None


def detach_loop(loop: str, backing: str | None) -> None:
    """Free a loop device this driver set up, if it still serves the same file (never someone else's)."""
    if backing and loop_backing(loop) == backing:
        subprocess.run(["losetup", "-d", loop], capture_output=True)


REBOOT_SPACING = 2  # whole seconds of the host's boot clock between two boots of one instance


def fresh_uptime(previous: int | None = None) -> tuple[list[str], int | None]:
    """``unshare`` options for a time namespace whose boot clock starts near 0 — the instance's ``/proc/uptime``
    counts from its own boot, as a VM's would — and the whole-second offset used (``unshare`` takes whole
    seconds). The boot time a guest derives at one-second resolution (now − ⌊uptime⌋, as Tempest reads it
    to see a reboot) moves forward only if the offsets of two boots differ by ``REBOOT_SPACING``: a reboot
    within that of the previous boot (``previous``) waits for it, at most 2 s. No options without time
    namespaces."""
    try:
        if not os.path.exists("/proc/self/ns/time"):
            return [], None
        uptime = _host_uptime()
        if previous is not None and previous <= uptime < previous + REBOOT_SPACING:  # (a smaller uptime: the host rebooted)
            time.sleep(previous + REBOOT_SPACING - uptime)
            uptime = _host_uptime()
        offset = int(uptime)
        return ["--time", "--boottime", str(-offset)], offset
    except (OSError, ValueError, IndexError):
        return [], None


def _host_uptime() -> float:
    with open("/proc/uptime") as fh:
        return float(fh.read().split()[0])
