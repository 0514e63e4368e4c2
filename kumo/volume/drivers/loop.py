"""Volumes as sparse files on loop devices (the local backend).

``connect`` attaches the volume's file to a free loop device (``losetup --find
--show`` picks and binds one atomically, so concurrent attaches never share a
device) or returns the one already bound; ``disconnect`` and ``delete`` detach
it. The binding is found again from the kernel (``losetup -j FILE``), never
remembered, so nothing is lost in a crash: ``reconcile`` at start detaches
devices bound to files of unknown volumes or of volumes nothing uses, and
``cleanup`` (``kumo reset``) detaches every device bound under the directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Iterable

from kumo.volume.driver import DriverError
from kumo.volume.drivers.simulated import SimulatedDriver


def _losetup(*args: str) -> str:
    proc = subprocess.run(["losetup", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise DriverError(f"losetup {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def bound_devices() -> list[tuple[str, str]]:
    """``(device, backing file)`` for every loop device in use on the host."""
    out = _losetup("--list", "--json", "--output", "NAME,BACK-FILE")
    if not out.strip():
        return []
    return [(dev["name"], (dev.get("back-file") or "").removesuffix(" (deleted)"))
            for dev in json.loads(out).get("loopdevices", [])]


def _flush(device: str) -> None:
    """Push what the guest wrote through the device's page cache down to the backing file."""
    fd = os.open(device, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LoopDriver(SimulatedDriver):
    name = "loop"
    capabilities = {**SimulatedDriver.capabilities, "block_device": True}

    def __init__(self, root: Path):
        super().__init__(root)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, volume_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(volume_id, threading.Lock())

    def devices(self, volume_id: str) -> list[str]:
        path = str(self.volume_path(volume_id).resolve())
        return [dev for dev, back in bound_devices() if back == path]

    def connect(self, volume_id: str) -> Path:
        with self._lock(volume_id):
            path = self._existing(volume_id)
            found = self.devices(volume_id)
            if found:
                return Path(found[0])
            return Path(_losetup("--find", "--show", str(path.resolve())).strip())

    def disconnect(self, volume_id: str) -> None:
        with self._lock(volume_id):
            for device in self.devices(volume_id):
                _detach(device)

    def extend(self, volume_id: str, size_gb: int) -> None:
        super().extend(volume_id, size_gb)
        for device in self.devices(volume_id):
            _losetup("--set-capacity", device)

    def _flush_volume(self, volume_id: str) -> None:
        for device in self.devices(volume_id):
            _flush(device)

    def clone(self, src_volume_id: str, dst_volume_id: str, size_gb: int) -> None:
        self._flush_volume(src_volume_id)
        super().clone(src_volume_id, dst_volume_id, size_gb)

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._flush_volume(volume_id)
        super().snapshot(volume_id, snapshot_id)

    def copy_to_file(self, volume_id: str, target: Path) -> None:
        self._flush_volume(volume_id)
        super().copy_to_file(volume_id, target)

    def reconcile(self, volume_ids: Iterable[str], snapshot_ids: Iterable[str], connected: Iterable[str]) -> None:
        keep = {str(self.volume_path(v).resolve()) for v in connected}
        root = str(self.root.resolve()) + "/"
        for device, back in bound_devices():
            if back.startswith(root) and back not in keep:
                _detach(device)
        super().reconcile(volume_ids, snapshot_ids, connected)

    def cleanup(self) -> None:
        root = str(self.root.resolve()) + "/"
        for device, back in bound_devices():
            if back.startswith(root):
                _detach(device)


def _detach(device: str) -> None:
    try:
        _losetup("--detach", device)
    except DriverError:
        # gone already, or still held open (then the kernel frees it on last close: autoclear)
        if os.path.exists(f"/sys/block/{os.path.basename(device)}/loop/backing_file"):
            raise


def cleanup(root: Path) -> None:
    """Detach every loop device bound to a file under ``root`` (``kumo reset``); nothing to do without losetup."""
    import shutil

    if shutil.which("losetup") and os.geteuid() == 0 and Path(root).exists():
        LoopDriver(root).cleanup()
