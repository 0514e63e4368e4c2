"""The eBPF VLAN program (``vlan.c``): build it, load it once per network namespace, attach it, edit its map.

The object is built from the package's own source (``scripts/setup.sh`` runs :func:`build`; if it is
missing or older than its source at run time, it is built on first use, into the package directory or,
when that is read-only, into the caller's ``fallback`` directory). Programs and their maps are pinned
under a private bpffs that the agent mounts in its run directory (``ip netns exec`` would hide
``/sys/fs/bpf``, and nothing here should touch the host's): one directory per network namespace,
``<bpffs>/<name>/{prog,vlan_map}``, since ifindexes (the map's keys) are per namespace. Map entries are
read and written with the ``bpf(2)`` system call directly; loading uses ``bpftool``, attaching ``tc``.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import shutil
import struct
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("vlan.c")
OBJECT = SOURCE.with_suffix(".o")
KEY = struct.Struct("<II")  # struct vlan_key: ifindex, vid (0: untagged)
VALUE = struct.Struct("<IIQQ")  # struct vlan_action: ifindex, vid to push (0: pop), packets, bytes
SYSCALL = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET = 1, 2, 3, 4, 7
ENOENT = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(RuntimeError):
    pass


def _run(argv: list[str], timeout: float = 30) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise BpfError(f"{' '.join(argv[:4])}… failed: {(proc.stderr or proc.stdout).strip()[:1000]}")
    return proc.stdout


def build(target: Path = OBJECT) -> Path:
    """Compile ``vlan.c`` with clang (``-g``: libbpf needs the BTF of the map definition)."""
    clang = shutil.which("clang")
    if clang is None:
        raise BpfError("clang is not installed (scripts/setup.sh installs clang, libbpf-dev and bpftool)")
    arch_include = f"/usr/include/{platform.machine()}-linux-gnu"
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    _run([clang, "-O2", "-g", "-target", "bpf", f"-I{arch_include}", "-c", str(SOURCE), "-o", str(tmp)], timeout=120)
    os.replace(tmp, target)
    return target


def object_file(fallback: Path) -> Path:
    """The built object, built now if it is missing or stale."""
    for candidate in (OBJECT, Path(fallback) / OBJECT.name):
        if candidate.exists() and candidate.stat().st_mtime >= SOURCE.stat().st_mtime:
            return candidate
    try:
        return build(OBJECT)
    except OSError:  # a read-only install
        Path(fallback).mkdir(parents=True, exist_ok=True)
        return build(Path(fallback) / OBJECT.name)


# -- the private bpffs ---------------------------------------------------------------------------

def mount(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(path):
        _run(["mount", "-t", "bpf", "kumo-bpf", str(path)])


def unmount(path: Path) -> None:
    """Drop every pin (the programs stay while attached; they go with their links) and the mount."""
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30, check=False)
    try:
        path.rmdir()
    except OSError:
        pass


def load(pin_dir: Path, fallback: Path) -> int:
    """Load the program into ``pin_dir`` (``prog`` and its map ``vlan_map``) unless it is there; its id."""
    prog, vmap = pin_dir / "prog", pin_dir / "vlan_map"
    if prog.exists() and vmap.exists():
        return json.loads(_run(["bpftool", "-j", "prog", "show", "pinned", str(prog)]))["id"]
    if pin_dir.exists():
        shutil.rmtree(pin_dir, ignore_errors=True)
    pin_dir.mkdir(parents=True)
    _run(["bpftool", "prog", "load", str(object_file(fallback)), str(prog), "type", "classifier"])
    # bpftool's own "pinmaps" rewrites dots in the path: pin the map by id instead
    info = json.loads(_run(["bpftool", "-j", "prog", "show", "pinned", str(prog)]))
    _run(["bpftool", "map", "pin", "id", str(info["map_ids"][0]), str(vmap)])
    return info["id"]


def attach(netns: str, ifname: str, pin_dir: Path) -> None:
    """The program on ``ifname``'s ingress (a clsact qdisc, one direct-action filter) in ``netns`` (a path)."""
    script = (f"qdisc replace dev {ifname} clsact\n"
              f"filter replace dev {ifname} ingress pref 1 handle 1 bpf da object-pinned {pin_dir / 'prog'}\n")
    proc = subprocess.run(["nsenter", f"--net={netns}", "--", "tc", "-batch", "-"], input=script, capture_output=True,
                          text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise BpfError(f"tc could not attach the VLAN program to {ifname} in {netns}: {proc.stderr.strip()[:1000]}")


def attached(netns: str, ifname: str) -> int | None:
    """The id of the program on ``ifname``'s ingress, if it is ours."""
    proc = subprocess.run(["nsenter", f"--net={netns}", "--", "tc", "filter", "show", "dev", ifname, "ingress"],
                          capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"direct-action.* id (\d+) name vlan ", proc.stdout) if proc.returncode == 0 else None
    return int(found.group(1)) if found else None


# -- the map ------------------------------------------------------------------------------------

def _bpf(cmd: int, attr: ctypes.Array) -> int:
    result = _libc.syscall(SYSCALL, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


class VlanMap:
    """The pinned ``vlan_map`` of one namespace: ``{(ifindex, vid): (out ifindex, vid to push, packets, bytes)}``."""

    def __init__(self, path: Path):
        attr = ctypes.create_string_buffer(128)
        name = ctypes.create_string_buffer(str(path).encode())
        struct.pack_into("<Q", attr, 0, ctypes.addressof(name))
        self.fd = _bpf(BPF_OBJ_GET, attr)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> VlanMap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _attr(self, key, value=None, flags: int = 0) -> ctypes.Array:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIQQQ", attr, 0, self.fd, 0, ctypes.addressof(key) if key is not None else 0,
                         ctypes.addressof(value) if value is not None else 0, flags)
        return attr

    def items(self) -> dict[tuple[int, int], tuple[int, int, int, int]]:
        found = {}
        key, nxt, value = None, ctypes.create_string_buffer(KEY.size), ctypes.create_string_buffer(VALUE.size)
        while True:
            try:
                _bpf(BPF_MAP_GET_NEXT_KEY, self._attr(key, nxt))
            except OSError as exc:
                if exc.errno == ENOENT:
                    return found
                raise
            key = ctypes.create_string_buffer(nxt.raw, KEY.size)
            try:
                _bpf(BPF_MAP_LOOKUP_ELEM, self._attr(key, value))
            except OSError as exc:
                if exc.errno != ENOENT:
                    raise
                continue
            found[KEY.unpack(key.raw)] = VALUE.unpack(value.raw)

    def put(self, key: tuple[int, int], ifindex: int, vid: int) -> None:
        raw_key = ctypes.create_string_buffer(KEY.pack(*key), KEY.size)  # alive until the call returns
        raw_value = ctypes.create_string_buffer(VALUE.pack(ifindex, vid, 0, 0), VALUE.size)
        _bpf(BPF_MAP_UPDATE_ELEM, self._attr(raw_key, raw_value))

    def delete(self, key: tuple[int, int]) -> None:
        raw_key = ctypes.create_string_buffer(KEY.pack(*key), KEY.size)
        try:
            _bpf(BPF_MAP_DELETE_ELEM, self._attr(raw_key))
        except OSError as exc:
            if exc.errno != ENOENT:
                raise

    def sync(self, wanted: dict[tuple[int, int], tuple[int, int]]) -> None:
        """Make the map hold exactly ``wanted`` (key → (out ifindex, vid to push)), counters of kept entries kept."""
        have = self.items()
        for key in have.keys() - wanted.keys():
            self.delete(key)
        for key, (ifindex, vid) in wanted.items():
            if have.get(key, (None, None))[:2] != (ifindex, vid):
                self.put(key, ifindex, vid)
