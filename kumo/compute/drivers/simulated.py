"""The simulated compute driver: the same contract and state machine, with no real instances.

Each instance is a directory ``<data_dir>/instances/<uuid>/`` holding ``state.json`` (its power
state and what it was built from) and ``console.log`` (a synthetic boot log), so that the driver
survives restarts and ``list_instances`` finds what a crash left behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tarfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from kumo.compute.driver import BlockDevice, DriverError, InstanceSpec, PowerState


class SimulatedDriver:
    name = "simulated"
    capabilities: ClassVar[dict] = {"pause": True, "suspend": True, "console_output": True, "attach_volume": True,
                    "snapshot": True, "rebuild": True, "resize": True}

    def __init__(self, settings):
        self.root = Path(settings.data_dir).resolve() / "instances"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._started = time.monotonic()

    # -- the instance's files -------------------------------------------------

    def _dir(self, uuid: str) -> Path:
        if not uuid or "/" in uuid or uuid.startswith("."):
            raise DriverError(f"invalid instance id {uuid!r}")
        return self.root / uuid

    def _read(self, uuid: str) -> dict:
        try:
            return json.loads((self._dir(uuid) / "state.json").read_text())
        except (OSError, ValueError):
            raise DriverError(f"Instance {uuid} could not be found.") from None

    def _write(self, uuid: str, state: dict) -> None:
        path = self._dir(uuid)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path / "state.json")

    def _log(self, uuid: str, *lines: str) -> None:
        stamp = time.monotonic() - self._started
        with (self._dir(uuid) / "console.log").open("a") as fh:
            for line in lines:
                fh.write(f"[{stamp:12.6f}] {line}\n")

    def _set_power(self, uuid: str, power: PowerState, *log: str) -> None:
        with self._lock:
            state = self._read(uuid)
            state["power_state"] = int(power)
            self._write(uuid, state)
        if log:
            self._log(uuid, *log)

    @staticmethod
    def _describe(spec: InstanceSpec) -> dict:
        return {"uuid": spec.uuid, "hostname": spec.hostname, "vcpus": spec.vcpus, "ram_mb": spec.ram_mb,
                "disk_gb": spec.disk_gb, "image_id": spec.image_id, "volumes": {}}

    def _boot_log(self, spec: InstanceSpec) -> None:
        self._log(spec.uuid, "Linux version 6.1.0-kumo (simulated)",
                  f"Memory: {spec.ram_mb}MB, CPUs: {spec.vcpus}",
                  "Run /sbin/init as init process", f"hostname: {spec.hostname}",
                  f"{spec.hostname} login:")

    # -- lifecycle ------------------------------------------------------------

    def spawn(self, spec: InstanceSpec) -> None:
        if spec.image_file is not None and not Path(spec.image_file).exists():
            raise DriverError(f"Image {spec.image_id} has no data at {spec.image_file}.")
        state = self._describe(spec)
        state["power_state"] = int(PowerState.RUNNING)
        with self._lock:
            self._write(spec.uuid, state)
        self._boot_log(spec)

    def destroy(self, uuid: str) -> None:
        shutil.rmtree(self._dir(uuid), ignore_errors=True)

    def power_off(self, uuid: str) -> None:
        self._set_power(uuid, PowerState.SHUTDOWN, "reboot: Power down")

    def power_on(self, spec: InstanceSpec) -> None:
        self._set_power(spec.uuid, PowerState.RUNNING)
        self._boot_log(spec)

    def reboot(self, spec: InstanceSpec, hard: bool) -> None:
        self._log(spec.uuid, "reboot: Restarting system" if not hard else "reset")
        self._set_power(spec.uuid, PowerState.RUNNING)
        self._boot_log(spec)

    def pause(self, uuid: str) -> None:
        self._set_power(uuid, PowerState.PAUSED)

    def unpause(self, uuid: str) -> None:
        self._set_power(uuid, PowerState.RUNNING)

    def suspend(self, uuid: str) -> None:
        self._set_power(uuid, PowerState.SUSPENDED, "PM: suspend entry (deep)")

    def resume(self, uuid: str) -> None:
        self._set_power(uuid, PowerState.RUNNING, "PM: suspend exit")

    def rebuild(self, spec: InstanceSpec) -> None:
        with self._lock:
            old = self._read(spec.uuid)
            state = {**self._describe(spec), "volumes": old.get("volumes", {}),
                     "power_state": int(PowerState.RUNNING)}
            self._write(spec.uuid, state)
        self._boot_log(spec)

    def resize(self, spec: InstanceSpec) -> None:
        with self._lock:
            state = self._read(spec.uuid)
            state.update(vcpus=spec.vcpus, ram_mb=spec.ram_mb, disk_gb=spec.disk_gb)
            self._write(spec.uuid, state)

    def power_state(self, uuid: str) -> PowerState:
        try:
            return PowerState(self._read(uuid)["power_state"])
        except DriverError:
            return PowerState.NOSTATE

    def console_output(self, uuid: str, lines: int | None = None) -> str:
        self._read(uuid)
        try:
            text = (self._dir(uuid) / "console.log").read_text(errors="replace")
        except OSError:
            return ""
        if lines is not None:
            text = "".join(text.splitlines(keepends=True)[-lines:]) if lines > 0 else ""
        return text

    def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        with self._lock:
            state = self._read(uuid)
            state.setdefault("volumes", {})[device.volume_id] = device.device_name
            self._write(uuid, state)

    def detach_volume(self, uuid: str, device: BlockDevice) -> None:
        with self._lock:
            try:
                state = self._read(uuid)
            except DriverError:
                return
            state.setdefault("volumes", {}).pop(device.volume_id, None)
            self._write(uuid, state)

    def snapshot(self, uuid: str, target: Path) -> None:
        state = self._read(uuid)
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w") as tar:
            for name, text in (("etc/hostname", state.get("hostname", "") + "\n"),
                               ("etc/kumo-snapshot", f"{uuid} {datetime.now(UTC).isoformat()}\n")):
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))

    def list_instances(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except OSError:
            return []

    def host_info(self) -> dict:
        cpus = os.cpu_count() or 1
        try:
            pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            memory_mb = pages * size // (1024 * 1024)
        except (ValueError, OSError):
            memory_mb = 4096
        disk = shutil.disk_usage(self.root)
        return {"hypervisor_hostname": socket.gethostname(), "vcpus": cpus, "memory_mb": memory_mb,
                "local_gb": disk.total // (1024 ** 3), "hypervisor_type": self.name, "hypervisor_version": 1,
                "host_ip": "127.0.0.1"}
