"""Power operations on a local instance: stop (clean or not), start again, reboot, pause and suspend
(the freezer), rebuild, resize, and the power state read back from the host."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kumo.compute.driver import DriverError, InstanceSpec, PowerState
from kumo.compute.drivers import local_host as host
from kumo.compute.drivers.local_init import write_cpuinfo
from kumo.compute.drivers.local_state import driver_errors

STOP_GRACE = 10.0  # seconds a clean stop may take before the instance is killed


class PowerOps:
    """A mixin of LocalDriver (with ``local_state.InstanceFiles`` and ``local_boot.Booting``)."""

    def _stop(self, uuid: str, state: dict, grace: float) -> None:
        """Stop the instance's init (cleanly within ``grace`` seconds, else SIGKILL), and its processes.

        The overlay is mounted ``volatile`` (no flush on the instance's fsyncs, nor at unmount: the
        price of a disk with ``cache=unsafe``, in exchange for boots and writes that never wait on the
        host's disk); a clean stop (power off, soft reboot) and a suspend write its upper dir back."""
        pid = self._pid(state)
        paths = state.get("cgroups") or {}
        if pid is not None:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                pidfd = None
            if pidfd is not None:
                try:
                    if self._pid(state) == pid:
                        self.cgroups.thaw(paths)
                        if grace > 0:
                            os.kill(pid, signal.SIGTERM)
                            host.readable(pidfd, grace)
                        if not host.readable(pidfd, 0):
                            os.kill(pid, signal.SIGKILL)
                            host.readable(pidfd, 10)
                finally:
                    os.close(pidfd)
        if paths:
            self.cgroups.thaw(paths)
            deadline = time.monotonic() + 10
            while (left := self.cgroups.pids(paths)) and time.monotonic() < deadline:
                for other in left:
                    try:
                        os.kill(other, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.005)
        child = self._children.pop(uuid, None)
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if grace > 0 and state.get("mode") == "overlay" and (self._dir(uuid) / "upper").is_dir():
            host.syncfs(self._dir(uuid) / "upper")  # volatile while it runs; durable once cleanly stopped
        if state.get("pid") is not None or state.get("suspended"):
            state.update(pid=None, start=None, suspended=False)
            self._save(uuid, state)

    @driver_errors
    def power_off(self, uuid: str) -> None:
        with self._lock(uuid):
            state = self._state(uuid)
            if self._pid(state) is not None:
                self._log(uuid, "power off requested")
            self._stop(uuid, state, grace=STOP_GRACE)

    @driver_errors
    def power_on(self, spec: InstanceSpec) -> None:
        with self._lock(spec.uuid):
            state = self._read(spec.uuid)
            if state is None or "lower" not in state:
                return self.spawn(spec)
            if self._pid(state) is not None:
                return
            self._prepare(spec, state)
            self._boot(spec.uuid, state)

    @driver_errors
    def reboot(self, spec: InstanceSpec, hard: bool) -> None:
        with self._lock(spec.uuid):
            state = self._state(spec.uuid)
            self._log(spec.uuid, "hard reboot" if hard else "reboot requested")
            self._stop(spec.uuid, state, grace=0 if hard else STOP_GRACE)
            self._prepare(spec, state)
            self._boot(spec.uuid, state)

    def _running(self, uuid: str) -> tuple[dict, int]:
        state = self._state(uuid)
        pid = self._pid(state)
        if pid is None:
            raise DriverError(f"Instance {uuid} is not running.")
        return state, pid

    @driver_errors
    def pause(self, uuid: str) -> None:
        with self._lock(uuid):
            state, _ = self._running(uuid)
            self.cgroups.freeze(state["cgroups"])

    @driver_errors
    def unpause(self, uuid: str) -> None:
        with self._lock(uuid):
            state, _ = self._running(uuid)
            self.cgroups.thaw(state["cgroups"])
            if state.get("suspended"):
                self.cgroups.keep_memory(state["cgroups"])
                state.update(suspended=False, suspended_at=None, released_bytes=None)
                self._save(uuid, state)

    @driver_errors
    def suspend(self, uuid: str) -> None:
        """Pause keeps the frozen instance as it is, in memory. Suspend, as a VM's managed save does,
        also saves its state: its processes are frozen, its disk writes made durable (the overlay is
        mounted ``volatile``, so nothing is flushed until asked), its page cache given back and its
        memory first to go under pressure, and the suspension recorded, so it outlives a restart of
        Kumo. ``resume`` thaws it where it stopped."""
        with self._lock(uuid):
            state, _ = self._running(uuid)
            self.cgroups.freeze(state["cgroups"])
            if state.get("mode") == "overlay":
                host.syncfs(self._dir(uuid) / "upper")
            released = self.cgroups.release_memory(state["cgroups"])
            state.update(suspended=True, suspended_at=time.time(), released_bytes=released)
            self._save(uuid, state)
            self._log(uuid, f"suspended: disk synced, {released >> 10} KiB of memory released")

    def resume(self, uuid: str) -> None:
        self.unpause(uuid)

    @driver_errors
    def rebuild(self, spec: InstanceSpec) -> None:
        with self._lock(spec.uuid):
            state = self._read(spec.uuid)
            if state is None:
                return self.spawn(spec)
            self._log(spec.uuid, f"rebuilding from image {spec.image_id}")
            self._stop(spec.uuid, state, grace=0)
            inst = self._dir(spec.uuid)
            for sub in ("upper", "work"):
                shutil.rmtree(inst / sub, ignore_errors=True)
            self._prepare(spec, state)
            self._boot(spec.uuid, state)

    @driver_errors
    def resize(self, spec: InstanceSpec) -> None:
        with self._lock(spec.uuid):
            state = self._state(spec.uuid)
            paths = state.get("cgroups") or {}
            if paths and all(Path(p).exists() for p in paths.values()):
                self.cgroups.set_limits(paths, spec.vcpus, spec.ram_mb)
            state.update(vcpus=spec.vcpus, ram_mb=spec.ram_mb)
            self._save(spec.uuid, state)
            if (self._rt(spec.uuid) / "run" / "cpuinfo").exists():
                write_cpuinfo(self._rt(spec.uuid) / "run" / "cpuinfo", spec.vcpus)

    def power_state(self, uuid: str) -> PowerState:
        state = self._read(uuid)
        if state is None:
            return PowerState.NOSTATE
        if self._pid(state) is None:
            return PowerState.SHUTDOWN
        if self.cgroups.freezer_state(state.get("cgroups") or {}) in ("FROZEN", "FREEZING"):
            return PowerState.SUSPENDED if state.get("suspended") else PowerState.PAUSED
        return PowerState.RUNNING
