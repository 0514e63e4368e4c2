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
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

from kumo.compute.driver import BlockDevice, DriverError, InstanceSpec, PowerState
from kumo.compute.drivers import local_host as host
from kumo.compute.drivers import local_pool as pool
from kumo.compute.drivers import local_rootfs as rootfs
from kumo.compute.drivers.local_cgroups import Cgroups
from kumo.compute.drivers.local_init import SETUP, capdrop_program, fstab, write_cpuinfo, write_run_dir

BOOT_TIMEOUT = 20.0  # seconds for the setup script to report the instance running
STOP_GRACE = 10.0  # seconds a clean stop may take before the instance is killed
log = logging.getLogger("kumo.compute")
_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
find_busybox = host.find_busybox  # kumo.backends asks whether this host can run instances


def _driver_errors(method):
    """Whatever the host refuses (a mount, a write to a cgroup, a command) becomes a DriverError: the
    server's fault message, never a worker's traceback."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DriverError:
            raise
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            raise DriverError(f"{method.__name__} failed: {exc}") from exc
    return wrapper


class LocalDriver:
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

    # -- files and state ----------------------------------------------------------------

    def _dir(self, uuid: str) -> Path:
        if not uuid or not _UUID.match(uuid):
            raise DriverError(f"invalid instance id {uuid!r}")
        return self.root / uuid

    def _rt(self, uuid: str) -> Path:
        return self.runtime / self._dir(uuid).name

    def _ensure_runtime(self, uuid: str) -> Path:
        """Mount the runtime tmpfs (while any instance exists), with a copy of busybox every instance
        links to, and make the instance's runtime dir."""
        with self._guard:
            if not rootfs.is_mounted(self.runtime):
                if self.busybox is None:
                    raise DriverError("The local backend needs a static busybox (Debian's busybox-static).")
                self.runtime.mkdir(mode=0o700, exist_ok=True)
                rootfs.mount("kumo-runtime", str(self.runtime), "tmpfs", 0, "mode=700,size=256m,nr_inodes=262144")
            setup = self.runtime / "setup.sh"
            if not setup.exists() or setup.read_text() != SETUP:
                tmp = self.runtime / ".setup.tmp"
                tmp.write_text(SETUP)
                os.replace(tmp, setup)
            capdrop = self.runtime / "capdrop"
            program = capdrop_program()
            if program and not capdrop.exists():
                tmp = self.runtime / ".capdrop.tmp"
                tmp.write_bytes(program)
                os.chmod(tmp, 0o755)
                os.replace(tmp, capdrop)
            busybox = self.runtime / "busybox"
            if not busybox.exists():
                tmp = self.runtime / ".busybox.tmp"
                shutil.copyfile(self.busybox, tmp)
                os.chmod(tmp, 0o755)
                os.replace(tmp, busybox)
            self._rt(uuid).mkdir(mode=0o755, exist_ok=True)
            return busybox

    def _release_runtime(self, uuid: str) -> None:
        """Remove the instance's runtime dir; unmount the tmpfs when it was the last one."""
        with self._guard:
            shutil.rmtree(self._rt(uuid), ignore_errors=True)
            try:
                left = [p for p in self.runtime.iterdir() if _UUID.match(p.name) and p.is_dir()]
            except OSError:
                return
            if not left:
                self.cgroups.remove_parents()  # only if empty: a spawn racing this re-creates them
            if not left and rootfs.is_mounted(self.runtime):
                rootfs.umount(str(self.runtime))
                try:
                    self.runtime.rmdir()
                except OSError:
                    pass

    def _lock(self, uuid: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(uuid, threading.RLock())

    def _read(self, uuid: str) -> dict | None:
        try:
            return json.loads((self._dir(uuid) / "state.json").read_text())
        except (OSError, ValueError):
            return None

    def _state(self, uuid: str) -> dict:
        state = self._read(uuid)
        if state is None:
            raise DriverError(f"Instance {uuid} could not be found.")
        return state

    def _save(self, uuid: str, state: dict) -> None:
        path = self._dir(uuid)
        tmp = path / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path / "state.json")

    def _pid(self, state: dict | None) -> int | None:
        """The instance's init, if it is alive (checked against its start time: pids get reused)."""
        if not state or not state.get("pid"):
            return None
        found = host.proc_stat(state["pid"])
        if found is None or found[0] in "ZX" or found[1] != state.get("start"):
            return None
        return state["pid"]

    def _log(self, uuid: str, line: str) -> None:
        with open(self._dir(uuid) / "console.log", "a") as fh:
            fh.write(f"[kumo] {line}\n")

    # -- preparing and booting --------------------------------------------------------------

    def _root_for(self, spec: InstanceSpec, state: dict) -> tuple[str, str]:
        """(lower dir or device, "overlay" | "device") for the spec's image or boot volume."""
        if spec.root_device is not None:
            path = self._device_path(spec.uuid, state, spec.root_device, root=True)
            kind = rootfs.detect(Path(path))
            if kind == "ext4":
                return path, "device"
            return str(self.images.lower(Path(path), f"volume-{spec.root_device.volume_id}")), "overlay"
        if spec.image_file is None:
            raise DriverError("The server has neither an image nor a boot volume.")
        return str(self.images.lower(Path(spec.image_file), spec.image_id)), "overlay"

    def _prepare(self, spec: InstanceSpec, state: dict) -> None:
        inst, rt = self._dir(spec.uuid), self._rt(spec.uuid)
        busybox = self._ensure_runtime(spec.uuid)
        fresh = not (inst / "upper").exists()
        for sub in ("upper", "work"):
            (inst / sub).mkdir(mode=0o755, exist_ok=True)
        shutil.rmtree(inst / "work" / "work" / "incompat", ignore_errors=True)  # left by a volatile overlay
        for sub in ("", "rootfs", "run", "dev", "dev/pts"):
            (rt / sub).mkdir(mode=0o755, exist_ok=True)
        host.make_dev(rt / "dev")
        write_run_dir(rt / "run", spec, busybox)
        write_cpuinfo(rt / "run" / "cpuinfo", spec.vcpus)
        paths = state.get("cgroups") or {}
        if not paths or not all(Path(p).exists() for p in paths.values()):
            paths = self.cgroups.create(spec.uuid, spec.vcpus, spec.ram_mb)
        else:
            self.cgroups.set_limits(paths, spec.vcpus, spec.ram_mb)
        state.update(cgroups=paths, vcpus=spec.vcpus, ram_mb=spec.ram_mb, hostname=spec.hostname)
        for name, dev in state.get("devices", {}).items():
            self._make_node(spec.uuid, name, dev["major"], dev["minor"], dev.get("ro", False))
            self.cgroups.allow_device(paths, "b", dev["major"], dev["minor"], dev.get("ro", False))
        lower, mode = self._root_for(spec, state)
        state.update(lower=lower, mode=mode)
        if fresh and mode == "overlay":
            rootfs.premake_mountpoints(inst / "upper", Path(lower))

    def _boot(self, uuid: str, state: dict, shell: pool.Shell | None = None) -> None:
        """Start the instance: a cold boot runs ``unshare`` for all its namespaces, which then joins its
        cgroups; a warm one (``shell`` from the pool, already in its uts, ipc and network namespaces and
        its cgroups) is sent the rest of the same command."""
        inst = self._dir(uuid)
        if shell is None:
            for pid in self.cgroups.pids(state["cgroups"]):  # an init a crash left unrecorded: never two
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        netns = inst / "netns"
        if shell is not None:
            try:
                netns.touch()
                rootfs.mount(f"/proc/{shell.proc.pid}/ns/net", str(netns), None, rootfs.MS_BIND)
            except OSError as exc:  # the shell died since it was taken: boot cold in its groups
                log.warning("instance %s: its warm shell is gone (%s); booting cold", uuid, exc)
                pool.kill(shell)
                shell = None
        if shell is not None:
            prefix, spaces = [], []
        elif rootfs.is_mounted(netns):
            prefix, spaces = ["nsenter", f"--net={netns}", "--"], ["--uts", "--ipc"]
        else:
            netns.touch()
            prefix, spaces = [], ["--uts", "--ipc", f"--net={netns}"]
        (self._rt(uuid) / "fstab").write_text(fstab(self._rt(uuid)))
        clock, state["boot_clock"] = host.fresh_uptime(state.get("boot_clock"))
        argv = [*prefix, "unshare", "--pid", "--fork", "--mount", *spaces, *clock,
                "--propagation", "private", "--", self.busybox, "sh", "-c", '. "$0"', str(self.runtime / "setup.sh"),
                self.busybox, str(inst), str(self._rt(uuid)), state["lower"], state["hostname"], state["mode"],
                *([] if shell else state["cgroups"].values())]
        host.trim_log(inst / "console.log")
        if shell is not None:
            proc = shell.proc
            argv[0] = shutil.which("unshare") or "/usr/bin/unshare"  # util-linux's, not busybox's applet
            pool.send(shell, " ".join(_quote(a) for a in argv)
                      + f" </dev/null 2>>{_quote(inst / 'console.log')}")
        else:
            log_fd = os.open(inst / "console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_fd,
                                        start_new_session=True, close_fds=True)
            finally:
                os.close(log_fd)
        line = self._read_status(proc)
        if not line.startswith("ok "):
            for pid in self.cgroups.pids(state["cgroups"]):  # a half-booted init, if any
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            tail = self.console_output(uuid, 5).strip().replace("\n", " | ")
            raise DriverError(f"The instance failed to boot: {tail or 'no output'}")
        pid = int(line.split()[1])
        found = host.proc_stat(pid)
        state.update(pid=pid, start=found[1] if found else None, suspended=False)
        self._save(uuid, state)
        old = self._children.pop(uuid, None)
        if old is not None:
            old.poll()
        self._children[uuid] = proc

    @staticmethod
    def _read_status(proc: subprocess.Popen, timeout: float = BOOT_TIMEOUT, close: bool = True) -> str:
        fd = proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not host.readable(fd, left):
                    break
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                data += chunk
        finally:
            if close:
                proc.stdout.close()
        return data.decode(errors="replace").split("\n", 1)[0]

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

    # -- the ComputeDriver interface ----------------------------------------------------------

    @_driver_errors
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

    # -- the warm pool (local_pool) -----------------------------------------------------------

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

    @_driver_errors
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

    @_driver_errors
    def power_off(self, uuid: str) -> None:
        with self._lock(uuid):
            state = self._state(uuid)
            if self._pid(state) is not None:
                self._log(uuid, "power off requested")
            self._stop(uuid, state, grace=STOP_GRACE)

    @_driver_errors
    def power_on(self, spec: InstanceSpec) -> None:
        with self._lock(spec.uuid):
            state = self._read(spec.uuid)
            if state is None or "lower" not in state:
                return self.spawn(spec)
            if self._pid(state) is not None:
                return
            self._prepare(spec, state)
            self._boot(spec.uuid, state)

    @_driver_errors
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

    @_driver_errors
    def pause(self, uuid: str) -> None:
        with self._lock(uuid):
            state, _ = self._running(uuid)
            self.cgroups.freeze(state["cgroups"])

    @_driver_errors
    def unpause(self, uuid: str) -> None:
        with self._lock(uuid):
            state, _ = self._running(uuid)
            self.cgroups.thaw(state["cgroups"])
            if state.get("suspended"):
                self.cgroups.keep_memory(state["cgroups"])
                state.update(suspended=False, suspended_at=None, released_bytes=None)
                self._save(uuid, state)

    @_driver_errors
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

    @_driver_errors
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

    @_driver_errors
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

    def console_output(self, uuid: str, lines: int | None = None) -> str:
        path = self._dir(uuid) / "console.log"
        if not self._dir(uuid).exists():
            raise DriverError(f"Instance {uuid} could not be found.")
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 1024 * 1024))
                text = fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        if lines is not None:
            text = "".join(text.splitlines(keepends=True)[-lines:]) if lines > 0 else ""
        return text

    # -- volumes ----------------------------------------------------------------------------

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

    @_driver_errors
    def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        with self._lock(uuid):
            state = self._state(uuid)
            self._attach(uuid, state, device)

    @_driver_errors
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

    # -- the rest ---------------------------------------------------------------------------

    @_driver_errors
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
            return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _UUID.match(p.name))
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

    def exec(self, uuid: str, argv: list[str], input: str | bytes | None = None, timeout: float = 30,
             text: bool = True, privileged: bool = False) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the instance: all its namespaces, its root, its cgroups, and (unless
        ``privileged``) the same capabilities as the instance's own processes."""
        state, pid = self._running(uuid)
        if not privileged and (self._rt(uuid) / "run" / "capdrop").exists():
            argv = ["/run/kumo/capdrop", "/run/kumo/busybox", "sh", "-c", 'exec "$@"', "sh", *argv]
        join = 'for c in "$@"; do echo 0 > "$c/cgroup.procs"; done; exec nsenter -t "$0" -m -u -i -n -p -r -w -- '
        cgroups = list((state.get("cgroups") or {}).values())
        script = join + " ".join(_quote(a) for a in argv)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/kumo", "HOME": "/root",
               "TERM": "dumb"}
        return subprocess.run(["sh", "-c", script, str(pid), *cgroups], input=input, capture_output=True,
                              text=text, timeout=timeout, env=env)

    def netns_path(self, uuid: str) -> Path:
        """The instance's network namespace (a bind mount of its nsfs file), for a network driver."""
        return self._dir(uuid) / "netns"

    # -- housekeeping ----------------------------------------------------------------------

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
                    if path.is_dir() and _UUID.match(path.name) and path.name not in known \
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


def _quote(arg: str) -> str:
    return "'" + str(arg).replace("'", "'\"'\"'") + "'"
