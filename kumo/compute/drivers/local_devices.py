"""Volumes of a local instance: a block device (or a loop device over a file) as a node in its
``/dev``, allowed in its devices cgroup, and recorded in its state so each boot makes it again."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kumo.compute.driver import BlockDevice, DriverError
from kumo.compute.drivers import local_host as host
from kumo.compute.drivers.local_state import driver_errors


class Volumes:
    """A mixin of LocalDriver (with ``local_state.InstanceFiles``)."""

    def _device_path(self, uuid: str, state: dict, device: BlockDevice, root: bool = False) -> str:
        """The host block device for a volume: its loop device, or one set up here for a plain file."""
        try:
            st = os.stat(device.path)
        except OSError as exc:
            raise DriverError(f"Volume {device.volume_id} is not available on this host: {exc.strerror}.") from None
        if stat.S_ISBLK(st.st_mode):
            path = str(device.path)
        elif stat.S_ISREG(st.st_mode):
            key = "root" if root else device.device_name
            known = (state.get("loops") or {}).get(key)
            if known and host.loop_backing(known) == str(Path(device.path).resolve()):
                path = known
            else:
                path = host.setup_loop(Path(device.path), device.read_only)
                state.setdefault("loops", {})[key] = path
                state.setdefault("loop_files", {})[path] = str(Path(device.path).resolve())
                self._save(uuid, state)
        else:
            raise DriverError(f"Volume {device.volume_id} is neither a block device nor a file.")
        if root:
            rdev = os.stat(path).st_rdev
            self.cgroups.allow_device(state.get("cgroups") or {}, "b", os.major(rdev), os.minor(rdev), False)
        return path

    def _attach(self, uuid: str, state: dict, device: BlockDevice) -> None:
        host.device_node_name(device.device_name)  # checked before anything is set up
        path = self._device_path(uuid, state, device)
        rdev = os.stat(path).st_rdev
        major, minor = os.major(rdev), os.minor(rdev)
        self._make_node(uuid, device.device_name, major, minor, device.read_only)
        self.cgroups.allow_device(state.get("cgroups") or {}, "b", major, minor, device.read_only)
        loop = (state.get("loops") or {}).get(device.device_name)
        state.setdefault("devices", {})[device.device_name] = {
            "volume_id": device.volume_id, "major": major, "minor": minor, "ro": device.read_only,
            "loop": loop if loop == path else None}
        self._save(uuid, state)

    def _make_node(self, uuid: str, device_name: str, major: int, minor: int, read_only: bool) -> None:
        dev = self._rt(uuid) / "dev"
        if dev.is_dir():  # not booted yet: _prepare makes the nodes from the state
            host.make_block_node(dev, device_name, major, minor, read_only)

    @driver_errors
    def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        with self._lock(uuid):
            state = self._state(uuid)
            self._attach(uuid, state, device)

    @driver_errors
    def detach_volume(self, uuid: str, device: BlockDevice) -> None:
        with self._lock(uuid):
            state = self._read(uuid)
            if state is None:
                return
            devices = state.setdefault("devices", {})
            name = device.device_name if device.device_name in devices else next(
                (n for n, d in devices.items() if d.get("volume_id") == device.volume_id), None)
            if name is None:
                return
            entry = devices.pop(name)
            match = host.DEVICE.match(name)
            if match:
                (self._rt(uuid) / "dev" / match.group(1)).unlink(missing_ok=True)
            self.cgroups.deny_device(state.get("cgroups") or {}, "b", entry["major"], entry["minor"])
            if entry.get("loop"):
                host.detach_loop(entry["loop"], (state.get("loop_files") or {}).pop(entry["loop"], None))
                (state.get("loops") or {}).pop(name, None)
            self._save(uuid, state)
