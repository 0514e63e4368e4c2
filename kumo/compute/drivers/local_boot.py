"""Booting a local instance: its runtime dir and files, its cgroups, its root, and the start itself.

``_prepare`` makes what every boot re-creates (the runtime dir with ``run/`` and ``dev/``, the cgroups'
limits, device nodes, the root's lower layer) and ``_boot`` starts it: a cold boot runs ``unshare`` for
all its namespaces with the setup script (``local_init.SETUP``); a warm one sends the same command to a
shell from the pool (``local_pool``). The script says ``ok <pid>`` on stdout once the instance runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kumo.compute.driver import DriverError, InstanceSpec
from kumo.compute.drivers import local_host as host
from kumo.compute.drivers import local_pool as pool
from kumo.compute.drivers import local_rootfs as rootfs
from kumo.compute.drivers.local_init import (
    SETUP,
    capdrop_program,
    fstab,
    write_cpuinfo,
    write_run_dir,
)
from kumo.compute.drivers.local_state import VALID_ID, log, quote

BOOT_TIMEOUT = 20.0  # seconds for the setup script to report the instance running


class Booting:
    """A mixin of LocalDriver (with ``local_state.InstanceFiles``)."""

    def _ensure_runtime(self, uuid: str) -> Path:
        """Mount the runtime tmpfs (while any instance exists), with a copy of busybox every instance
        links to, and make the instance's runtime dir."""
        with self._guard:
            if not rootfs.holds_other_fs(self.runtime):
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
                left = [p for p in self.runtime.iterdir() if VALID_ID.match(p.name) and p.is_dir()]
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
        elif rootfs.holds_other_fs(netns):
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
            pool.send(shell, " ".join(quote(a) for a in argv)
                      + f" </dev/null 2>>{quote(inst / 'console.log')}")
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
