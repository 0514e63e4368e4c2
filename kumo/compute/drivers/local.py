"""The local compute driver: every server a real, isolated Linux instance on this host.

An instance is its own pid, mount, uts, ipc and network namespaces (``unshare``), a root
filesystem that is an overlay over the cached image (``local_rootfs``), cgroup v1 limits from the
flavor, a devices allow-list and a freezer for pause/suspend (``local_cgroups``), and Kumo's init
(``local_init``) which relays the console to a log file and stops cleanly on SIGTERM; its processes
lose the capabilities that would reach past its namespaces.

What the driver knows about an instance is under ``<data_dir>/instances/<uuid>/``: ``state.json``
(init pid and start time, cgroup paths, the lower layer, devices, loop devices it set up), ``upper/``
and ``work/`` (its writes), ``netns`` (its network namespace, bind-mounted so it outlives reboots
and a network driver can plug into it) and ``console.log``. What each boot re-creates lives on a
tmpfs, ``<data_dir>/runtime/<uuid>/`` (mounted while any instance exists): ``run/`` (``/run/kumo``
inside, read-only: init, config drive, keys, busybox), ``dev/`` (its ``/dev``: device nodes, the
console FIFO) and ``rootfs/`` (the mount point). Instances run in their own session, so they
outlive Kumo; a new driver finds them again from these files, and ``destroy`` removes all of it,
even from a half-made instance. A serving Kumo keeps a few instance shells ready (``local_pool``): a
first boot takes one instead of making its namespaces and joining its cgroups on the request path.

The driver is in parts, each a mixin of ``LocalDriver``: ``local_state`` (an instance's files, state and
lock), ``local_boot`` (preparing and starting it), ``local_power`` (stop, start, reboot, pause, suspend,
rebuild, resize), ``local_devices`` (volumes), ``local_console`` (console log, exec); this module has
the ComputeDriver entry points that span them (spawn, destroy, snapshot), the warm pool's side and the
housekeeping.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from kumo.compute.driver import DriverError, InstanceSpec
from kumo.compute.drivers import local_host as host
from kumo.compute.drivers import local_pool as pool
from kumo.compute.drivers import local_rootfs as rootfs
from kumo.compute.drivers.local_boot import Booting
from kumo.compute.drivers.local_cgroups import Cgroups
from kumo.compute.drivers.local_console import ConsoleExec
from kumo.compute.drivers.local_devices import Volumes
from kumo.compute.drivers.local_power import PowerOps
from kumo.compute.drivers.local_state import VALID_ID, InstanceFiles, driver_errors, log

find_busybox = host.find_busybox  # kumo.backends asks whether this host can run instances


class LocalDriver(InstanceFiles, Booting, PowerOps, Volumes, ConsoleExec):
    name = "local"
    capabilities = {"pause": True, "suspend": True, "console_output": True, "attach_volume": True,
                    "snapshot": True, "rebuild": True, "resize": True, "exec": True}

    def __init__(self, settings):
        self.data_dir = Path(settings.data_dir).resolve()
        self.root = self.data_dir / "instances"
        self.root.mkdir(parents=True, exist_ok=True)
        self.images = rootfs.ImageCache(self.data_dir / "image-cache")
        self.runtime = self.data_dir / "runtime"  # a tmpfs: what each boot recreates (rootfs, run, dev)
        self.cgroups = Cgroups(self.data_dir)
        self.busybox = host.find_busybox()
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()
        self._children: dict[str, subprocess.Popen] = {}
        self._pool: pool.Pool | None = None
        self._remove_orphan_cgroups()

    @driver_errors
    def spawn(self, spec: InstanceSpec) -> None:
        with self._lock(spec.uuid):
            inst = self._dir(spec.uuid)
            inst.mkdir(exist_ok=True)
            state = self._read(spec.uuid)
            shell = None
            if state is None:  # a first boot: a warm shell, if the pool has one
                state = {"uuid": spec.uuid, "devices": {}}
                shell = self._adopt(spec.uuid, state)
            if self._pid(state) is not None:
                return
            self._prepare(spec, state)
            for device in spec.block_devices:
                self._attach(spec.uuid, state, device)
            self._boot(spec.uuid, state, shell)

    def start_pool(self, size: int) -> None:
        """Keep ``size`` instance shells ready for first boots (the serving Kumo only, never ``kumo reset``)."""
        if size > 0 and self._pool is None and self.busybox is not None:
            self._pool = pool.Pool(self, size)
            atexit.register(self.stop_pool)  # a kill -9 leaves them to the next start's orphan sweep

    def stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    def make_shell(self, name: str) -> pool.Shell:
        # all the host's CPUs until a boot gives it the flavor's (a shell weighs on no CPU more than another)
        paths = self.cgroups.create(name, os.cpu_count() or 1, pool.RAM_MB)
        proc = None
        try:
            self._ensure_runtime(name)
            rt = self._rt(name)
            for sub in ("rootfs", "run", "dev", "dev/pts"):
                (rt / sub).mkdir(mode=0o755, exist_ok=True)
            host.make_dev(rt / "dev")
            proc = pool.start_shell(["unshare", "--uts", "--ipc", "--net", "--", self.busybox, "sh", "-c",
                                     pool.SHELL, "shell", *paths.values()])
            shell = pool.Shell(name, proc, paths)
            line = self._read_status(proc, timeout=pool.READY_TIMEOUT, close=False)
            if line != "ready":
                raise DriverError(f"an instance shell did not start: {line or 'no output'}")
            return shell
        except BaseException:
            if proc is not None:
                pool.kill(pool.Shell(name, proc, paths))
            self.cgroups.remove(paths)
            self._release_runtime(name)
            raise

    def discard_shell(self, shell: pool.Shell) -> None:
        pool.kill(shell)
        self.cgroups.remove(shell.cgroups)
        self._release_runtime(shell.name)

    def _adopt(self, uuid: str, state: dict) -> pool.Shell | None:
        """Make a warm shell this instance's: its cgroups and runtime dir take the instance's name."""
        shell = self._pool.take() if self._pool is not None else None
        if shell is None:
            return None
        try:
            state["cgroups"] = pool.rename_cgroups(shell.cgroups, uuid)
            os.rename(self._rt(shell.name), self._rt(uuid))
        except OSError as exc:  # a name taken by what a crash left: boot cold
            state.pop("cgroups", None)
            pool.kill(shell)
            self.cgroups.remove(self.cgroups.paths_for(shell.name))
            self.cgroups.remove(self.cgroups.paths_for(uuid))  # renamed ones, or a crash's: made anew
            self._release_runtime(shell.name)
            log.warning("instance %s: could not take a warm shell (%s); booting cold", uuid, exc)
            return None
        self._children[uuid] = shell.proc
        log.debug("instance %s: boots in warm shell %s", uuid, shell.name)
        return shell

    @driver_errors
    def destroy(self, uuid: str) -> None:
        with self._lock(uuid):
            inst = self._dir(uuid)
            state = self._read(uuid) or {}
            paths = {**self.cgroups.paths_for(uuid), **(state.get("cgroups") or {})}
            state["cgroups"] = paths
            if inst.exists():
                self._stop(uuid, state, grace=0)
            self.cgroups.remove(paths)
            for loop, backing in (state.get("loop_files") or {}).items():
                host.detach_loop(loop, backing)  # only ours; a busy one is freed (autoclear) when its last user goes
            rootfs.unmount_all(inst)
            self._release_runtime(uuid)
            shutil.rmtree(inst, ignore_errors=True)
            if inst.exists():  # something still mounted or busy: say so rather than leave it silently
                rootfs.unmount_all(inst)
                shutil.rmtree(inst)
        with self._guard:
            self._locks.pop(uuid, None)

    @driver_errors
    def snapshot(self, uuid: str, target: Path) -> None:
        with self._lock(uuid):
            state = self._state(uuid)
            pid = self._pid(state)
            if pid is not None:
                rootfs.snapshot_running(pid, Path(target))
            else:
                (self._rt(uuid) / "rootfs").mkdir(parents=True, exist_ok=True)
                shutil.rmtree(self._dir(uuid) / "work" / "work" / "incompat", ignore_errors=True)
                rootfs.snapshot_stopped(self._dir(uuid), self._rt(uuid) / "rootfs", state["lower"], state["mode"],
                                        Path(target))

    def list_instances(self) -> list[str]:
        for uuid, child in list(self._children.items()):
            if child.poll() is not None:
                self._children.pop(uuid, None)
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir() and VALID_ID.match(p.name))
        except OSError:
            return []

    def host_info(self) -> dict:
        try:
            memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
        except (ValueError, OSError):
            memory_mb = 0
        disk = shutil.disk_usage(self.root)
        return {"hypervisor_hostname": socket.gethostname(), "vcpus": os.cpu_count() or 1,
                "memory_mb": memory_mb, "local_gb": disk.total // (1024 ** 3), "hypervisor_type": self.name,
                "hypervisor_version": 1, "host_ip": "127.0.0.1"}

    def _remove_orphan_cgroups(self) -> None:
        """Remove what a crash left with no instance directory behind it: cgroups (and whatever still
        runs in them), runtime dirs, half-unpacked images."""
        try:
            groups = self.cgroups.children()  # before listing the instances: a spawn makes its dir first
            known = {p.name for p in self.root.iterdir()}
            for name in sorted(groups - known):
                self.cgroups.remove(self.cgroups.paths_for(name))
            if self.runtime.is_dir():
                for path in self.runtime.iterdir():
                    if path.is_dir() and VALID_ID.match(path.name) and path.name not in known \
                            and not (self.root / path.name).exists():
                        shutil.rmtree(path, ignore_errors=True)
            self.images.sweep()
        except (OSError, DriverError):
            pass

    def cleanup(self) -> None:
        """Destroy every instance of this data dir and release the image cache (``kumo reset``)."""
        self.stop_pool()
        for uuid in self.list_instances():
            self.destroy(uuid)
        self._remove_orphan_cgroups()
        self.cgroups.remove_parents()
        self.images.clear()
        rootfs.unmount_all(self.runtime)
        shutil.rmtree(self.runtime, ignore_errors=True)


def cleanup(settings) -> None:
    LocalDriver(settings).cleanup()
