"""cgroup v1 limits for local instances: cpu quota, cpuset, memory, pids, devices, and the freezer.

Each data directory gets one parent group per hierarchy, below the cgroup Kumo itself runs in
(``<own>/kumo-<hash of the data dir>``), and each instance a child named by its uuid. The paths
an instance got are recorded in its state file, so a Kumo restarted in another cgroup still
finds (and removes) them; anything under the parent with no instance directory is an orphan.

The cpuset gives an instance min(vcpus, host CPUs) CPUs, so ``nproc`` (the affinity mask) inside it
says what ``/proc/cpuinfo`` says; each instance takes the CPUs its siblings use least, so instances
spread over the host's CPUs.
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import threading
import time
from pathlib import Path

from kumo.compute.driver import DriverError

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices")
CFS_PERIOD_US = 100_000
PIDS_MAX = 1024
# what an instance may open: null zero full random urandom tty console(FIFO, not a device) ptmx pts/*
DEVICES_ALLOWED = ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                   "c 5:2 rwm", "c 136:* rwm")


def _own_paths() -> dict[str, str]:
    """The cgroup this process is in, per v1 hierarchy."""
    own = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, names, path = line.rstrip("\n").split(":", 2)
            for name in names.split(","):
                if name in CONTROLLERS:
                    own[name] = path
    return own


def available() -> bool:
    return all((ROOT / c / "cgroup.procs").exists() for c in ("cpu", "memory", "pids", "freezer"))


class Cgroups:
    def __init__(self, data_dir: Path):
        tag = "kumo-" + hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
        own = _own_paths()
        self.parents = {c: ROOT / c / own.get(c, "/").lstrip("/") / tag
                        for c in CONTROLLERS if (ROOT / c / "cgroup.procs").exists()}
        self._cpus_lock = threading.Lock()  # two spawns choosing CPUs at once would pick the same ones
        self._siblings: dict[str, list[int]] = {}  # the CPUs of each group under the cpuset parent, as last read

    # -- create and limit ------------------------------------------------------------------

    def create(self, uuid: str, vcpus: int, ram_mb: int) -> dict[str, str]:
        paths = {}
        for controller, parent in self.parents.items():
            if controller == "cpuset":
                with self._cpus_lock:  # a spawn alongside must not find the parent made but still empty
                    _cpuset_dirs(parent)
            path = parent / uuid
            path.mkdir(parents=True, exist_ok=True)
            paths[controller] = str(path)
        if "devices" in paths:
            _write(Path(paths["devices"]) / "devices.deny", "a")
            for rule in DEVICES_ALLOWED:
                _write(Path(paths["devices"]) / "devices.allow", rule)
        self.set_limits(paths, vcpus, ram_mb)
        return paths

    def set_limits(self, paths: dict[str, str], vcpus: int, ram_mb: int) -> None:
        if "cpuset" in paths:
            self.set_cpus(Path(paths["cpuset"]), vcpus)
        if "cpu" in paths:
            cpu = Path(paths["cpu"])
            _write(cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(max(1, vcpus) * CFS_PERIOD_US))
        if "memory" in paths:
            limit = max(16, ram_mb) * 1024 * 1024
            try:
                _write(Path(paths["memory"]) / "memory.limit_in_bytes", str(limit))
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise DriverError(f"The instance uses more than {ram_mb} MB of memory: cannot shrink "
                                      "its memory limit while it runs.") from None
                raise
        if "pids" in paths:
            _write(Path(paths["pids"]) / "pids.max", str(PIDS_MAX))

    def set_cpus(self, group: Path, vcpus: int) -> list[int]:
        """Give ``group`` min(vcpus, host CPUs) CPUs: those its siblings use least (lowest first on a tie)."""
        with self._cpus_lock:
            host = parse_cpus(_read(group.parent / "cpuset.effective_cpus") or _read(group.parent / "cpuset.cpus"))
            if not host:
                raise DriverError(f"no CPUs in cpuset {group.parent}")
            wanted = max(1, min(vcpus, len(host)))
            current = parse_cpus(_read(group / "cpuset.cpus"))
            if len(current) == wanted and set(current) <= set(host):  # kept across reboots
                self._siblings[group.name] = current
                return current
            load = dict.fromkeys(host, 0)
            for cpus in self._sibling_cpus(group).values():
                for cpu in cpus:
                    if cpu in load:
                        load[cpu] += 1
            chosen = sorted(sorted(host, key=lambda c: (load[c], c))[:wanted])
            if not _read(group / "cpuset.mems"):
                _write(group / "cpuset.mems", _read(group.parent / "cpuset.mems"))
            _write(group / "cpuset.cpus", ",".join(map(str, chosen)))
            self._siblings[group.name] = chosen
            return chosen

    def _sibling_cpus(self, group: Path) -> dict[str, list[int]]:
        """The CPUs of ``group``'s siblings (with ``_cpus_lock`` held). One directory listing a call: a
        group's CPUs are read once, when first met, then kept as this object set them (another driver of
        the same data dir resizing one makes the spread a little less even, never wrong)."""
        with os.scandir(group.parent) as entries:
            names = {e.name for e in entries if e.is_dir(follow_symlinks=False)}
        for gone in self._siblings.keys() - names:
            del self._siblings[gone]
        for name in names - self._siblings.keys():
            self._siblings[name] = parse_cpus(_read(group.parent / name / "cpuset.cpus"))
        return {name: cpus for name, cpus in self._siblings.items() if name != group.name}

    @staticmethod
    def allow_device(paths: dict[str, str], kind: str, major: int, minor: int, read_only: bool) -> None:
        if "devices" in paths:
            _write(Path(paths["devices"]) / "devices.allow", f"{kind} {major}:{minor} {'r' if read_only else 'rw'}")

    @staticmethod
    def deny_device(paths: dict[str, str], kind: str, major: int, minor: int) -> None:
        if "devices" in paths and Path(paths["devices"]).exists():
            _write(Path(paths["devices"]) / "devices.deny", f"{kind} {major}:{minor} rwm")

    # -- freezer ---------------------------------------------------------------------------

    @staticmethod
    def freezer_state(paths: dict[str, str]) -> str:
        try:
            return (Path(paths["freezer"]) / "freezer.state").read_text().strip()
        except (KeyError, OSError):
            return "THAWED"

    @staticmethod
    def freeze(paths: dict[str, str], timeout: float = 5.0) -> None:
        state = Path(paths["freezer"]) / "freezer.state"
        _write(state, "FROZEN")
        deadline = time.monotonic() + timeout
        while state.read_text().strip() != "FROZEN":
            if time.monotonic() > deadline:
                _write(state, "THAWED")
                raise DriverError("The instance could not be frozen.")
            time.sleep(0.005)

    @staticmethod
    def thaw(paths: dict[str, str]) -> None:
        state = Path(paths.get("freezer", "/nonexistent")) / "freezer.state"
        if state.exists():
            _write(state, "THAWED")

    # -- suspend ---------------------------------------------------------------------------

    @staticmethod
    def release_memory(paths: dict[str, str]) -> int:
        """What a suspended instance gives back (its processes frozen): the page cache it holds is
        reclaimed now (dirty pages written back), by briefly capping the group at what its processes
        map, and its memory is first in line for reclaim (soft limit 0) until ``keep_memory``.
        Returns the bytes released."""
        if "memory" not in paths:
            return 0
        mem = Path(paths["memory"])
        before = int((mem / "memory.usage_in_bytes").read_text())
        stat = dict(line.split() for line in (mem / "memory.stat").read_text().splitlines())
        keep = int(stat.get("total_rss", 0)) + int(stat.get("total_mapped_file", 0)) + (256 << 10)
        limit = (mem / "memory.limit_in_bytes").read_text().strip()
        _write(mem / "memory.soft_limit_in_bytes", "0")
        if keep < before:
            try:
                _write(mem / "memory.limit_in_bytes", str(keep))
            except OSError as exc:
                if exc.errno != errno.EBUSY:  # EBUSY: not all of it could go (no swap): what did is gone
                    raise
            finally:
                _write(mem / "memory.limit_in_bytes", limit)
        return max(0, before - int((mem / "memory.usage_in_bytes").read_text()))

    @staticmethod
    def keep_memory(paths: dict[str, str]) -> None:
        """Undo ``release_memory``'s soft limit (resume)."""
        if "memory" in paths and Path(paths["memory"]).exists():
            _write(Path(paths["memory"]) / "memory.soft_limit_in_bytes", "-1")

    # -- removal ---------------------------------------------------------------------------

    @staticmethod
    def pids(paths: dict[str, str]) -> set[int]:
        found = set()
        for path in paths.values():
            try:
                fd = os.open(f"{path}/cgroup.procs", os.O_RDONLY)
            except OSError:
                continue
            try:
                data = b""
                while chunk := os.read(fd, 65536):
                    data += chunk
            except OSError:
                pass
            finally:
                os.close(fd)
            found.update(map(int, data.split()))
        return found

    def remove(self, paths: dict[str, str], timeout: float = 5.0) -> None:
        """Kill whatever is in the groups (also what joins them meanwhile: a booting instance whose
        Kumo died), then remove them; fine if already gone."""
        deadline = time.monotonic() + timeout
        left = dict(paths)
        while left:
            self.thaw(paths)
            for pid in self.pids(left):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for controller, path in list(left.items()):
                try:
                    Path(path).rmdir()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno != errno.EBUSY:  # EBUSY: tasks still exiting (or just joined)
                        raise DriverError(f"cannot remove cgroup {path}: {exc}") from None
                    continue
                del left[controller]
            if left:
                if time.monotonic() > deadline:
                    raise DriverError(f"cannot remove cgroups {sorted(left.values())}: processes would not die")
                time.sleep(0.005)

    def children(self) -> set[str]:
        """Names of the child groups under this data dir's parents."""
        names = set()
        for parent in self.parents.values():
            try:
                names.update(p.name for p in parent.iterdir() if p.is_dir())
            except OSError:
                pass
        return names

    def paths_for(self, uuid: str) -> dict[str, str]:
        return {c: str(p / uuid) for c, p in self.parents.items() if (p / uuid).exists()}

    def remove_parents(self) -> None:
        for parent in self.parents.values():
            try:
                parent.rmdir()
            except OSError:
                pass


def parse_cpus(text: str) -> list[int]:
    """A cpuset list ("0-2,5") as CPU numbers."""
    cpus = set()
    for part in text.strip().split(","):
        if "-" in part:
            low, high = part.split("-")
            cpus.update(range(int(low), int(high) + 1))
        elif part:
            cpus.add(int(part))
    return sorted(cpus)


def _cpuset_dirs(parent: Path) -> None:
    """Make ``parent`` and the cpuset directories above it that do not exist yet, each with its parent's
    CPUs and memory nodes (a new cpuset starts empty, and a task cannot join an empty one)."""
    missing = []
    folder = parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        for name in ("cpuset.mems", "cpuset.cpus"):
            if not _read(folder / name):
                _write(folder / name, _read(folder.parent / name))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)

