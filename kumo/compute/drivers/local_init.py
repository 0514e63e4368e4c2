"""What runs inside a local instance: the boot script, Kumo's init, and the config-drive files.

``SETUP`` runs as pid 1 of the instance's fresh namespaces (under ``unshare``), still seeing the
host's files: it joins the instance's cgroups, sets the hostname, mounts the root filesystem
(an overlay over the image, or a volume), ``/proc``, ``/sys`` (read-only), the instance's ``/dev``
and ``/run/kumo`` (read-only: this init, the config drive, a static busybox), pivots into the
root, reports the host pid on stdout and becomes ``INIT``. Every mount lives in the instance's
own mount namespace and disappears with it. The host's busybox does the work, so any image
boots, whatever it contains.
"""

from __future__ import annotations

import json
import os
import platform
import struct
from pathlib import Path

# Sourced by ``sh -c '. "$0"' <this file> <args>``: $1 = host busybox, $2 = instance dir (upper, work),
# $3 = its runtime dir on tmpfs (rootfs, run, dev), $4 = lower dir (or root block device), $5 = hostname,
# $6 = "overlay" | "device", $7... = the instance's cgroup directories. Every command run here is a
# fork and exec of busybox: a boot's latency is mostly their number, so the mounts below the root
# are one ``mount -a`` over the instance's ``$3/fstab`` (``fstab``), written by the driver.
SETUP = r'''
set -e
B=$1 I=$2 T=$3 L=$4 H=$5 MODE=$6
shift 6
read -r P _ < /proc/self/stat
for c in "$@"; do echo 0 > "$c/cgroup.procs"; done
echo "$H" > /proc/sys/kernel/hostname
R=$T/rootfs
if [ "$MODE" = device ]; then
    $B mount "$L" "$R"
else
    $B mount -t overlay kumo-root -o "volatile,lowerdir=$L,upperdir=$I/upper,workdir=$I/work" "$R"
fi
# the instance owns its root: never follow its symlinks out of it while still seeing the host
for d in proc sys dev run run/kumo; do
    if [ -L "$R/$d" ] || { [ -e "$R/$d" ] && [ ! -d "$R/$d" ]; }; then $B rm -f "$R/$d"; fi
    [ -d "$R/$d" ] || $B mkdir -m 755 "$R/$d"
done
$B mount -a -T "$T/fstab"  # /proc, /sys, /dev, /dev/pts and /run/kumo in one go: fstab()
$B mount -o remount,bind,ro,nodev "$R/run/kumo"
# the flavor's vcpus in /proc/cpuinfo, as lxcfs shows them (bound from the read-only /run/kumo: read-only too)
$B mount --bind "$R/run/kumo/cpuinfo" "$R/proc/cpuinfo"
$B ip link set lo up
cd "$R"
$B pivot_root . .
$B umount -l .
cd /
B=/run/kumo/busybox
for d in etc root; do
    if [ -L "/$d" ] || { [ -e "/$d" ] && [ ! -d "/$d" ]; }; then $B rm -f "/$d"; fi
    [ -d "/$d" ] || $B mkdir -m 755 "/$d"
done
echo "$H" > /etc/hostname
if [ -s /run/kumo/authorized_keys ]; then
    [ -L /root/.ssh ] && $B rm -f /root/.ssh
    [ -d /root/.ssh ] || $B mkdir -m 700 /root/.ssh
    [ -L /root/.ssh/authorized_keys ] && $B rm -f /root/.ssh/authorized_keys
    $B cat /run/kumo/authorized_keys > /root/.ssh/authorized_keys
    $B chmod 600 /root/.ssh/authorized_keys
fi
[ -x /run/kumo/capdrop ] && exec /run/kumo/capdrop /run/kumo/init "$P"
exec /run/kumo/init "$P"
'''

def fstab(runtime: Path) -> str:
    """The mounts below an instance's root, mounted in order by ``mount -a`` once the root is up and
    its mount points are checked (real directories, never symlinks out of the instance)."""
    root = runtime / "rootfs"
    lines = [("proc", root / "proc", "proc", "nosuid,nodev,noexec"),
             ("sysfs", root / "sys", "sysfs", "ro,nosuid,nodev,noexec"),
             (runtime / "dev", root / "dev", "none", "bind"),
             ("devpts", root / "dev" / "pts", "devpts", "newinstance,ptmxmode=0666,mode=620"),
             (runtime / "run", root / "run" / "kumo", "none", "bind")]
    return "".join(f"{_field(a)} {_field(b)} {c} {d} 0 0\n" for a, b, c, d in lines)


def _field(value) -> str:
    """An fstab field: blanks and backslashes as octal escapes, as getmntent reads them."""
    return "".join(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch for ch in str(value))


INIT = r'''#!/run/kumo/busybox sh
# Kumo's init for a local instance: relays /dev/console to the console log, reaps every
# orphan, runs /etc/rc.local if the image has one, and stops cleanly on SIGTERM (or on
# poweroff/halt/reboot from inside, which signal pid 1).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=linux
B=/run/kumo/busybox
read -r H < /proc/sys/kernel/hostname
say() { echo "[kumo-init] $*"; }
others() {
    for p in /proc/[0-9]*; do [ "$p" = /proc/1 ] || return 0; done
    return 1
}
shutdown() {
    trap '' TERM INT USR1 USR2 PWR
    say "stopping: sending SIGTERM to all processes"
    kill -TERM -1 2>/dev/null
    n=0
    while others && [ $n -lt 20 ]; do $B sleep 0.1 & wait $!; n=$((n + 1)); done
    kill -KILL -1 2>/dev/null
    say "reboot: Power down"
    exit 0
}
trap shutdown TERM INT USR1 USR2 PWR
if [ -n "$1" ]; then echo "ok $1"; exec 1>&2; fi  # booted: tell Kumo (host pid), then log to the console
say "Kumo local instance $H booting (kernel $($B uname -r))"
relay() { $B cat 0<>/dev/console & RELAY=$!; }
relay
if [ -x /etc/rc.local ]; then /etc/rc.local </dev/null & fi
say "started; $H login:"
while :; do
    wait
    kill -0 "$RELAY" 2>/dev/null || relay
done
'''


# Capabilities the instance's processes lose (from the bounding set, before its init starts), as Docker
# drops them: what would reach past its namespaces (modules, raw I/O, mounts, the clock, open_by_handle,
# kernel logs, BPF...). Kept: chown, dac_override, fowner, fsetid, kill, setgid/uid, setpcap,
# net_bind_service, net_broadcast, net_admin and net_raw (its own network namespace: DHCP clients),
# ipc_lock, sys_chroot, mknod (the devices cgroup decides what opens), lease, audit_write, setfcap.
DROPPED_CAPS = (2, 9, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 26, 30, 32, 33, 34, 35, 36, 37, 38, 39, 40)


def capdrop_program() -> bytes | None:
    """A tiny static x86-64 program: drop DROPPED_CAPS from the bounding set, then exec argv[1:].

    Busybox has no way to drop capabilities, and nothing of the host is reachable after pivot_root, so
    the instance gets this 200-byte ELF (hand-assembled; None on other architectures: no drop there)."""
    if platform.machine() not in ("x86_64", "amd64"):
        return None
    base, entry = 0x400000, 120  # code right after the ELF header (64) and one program header (56)
    code = bytes.fromhex("4889e3")  # mov rbx, rsp (argc, argv..., NULL, envp...)
    lea = len(code)
    code += bytes.fromhex("4c8d25") + b"\0\0\0\0"  # lea r12, [rip + caps]
    code += bytes.fromhex("41bd") + struct.pack("<I", len(DROPPED_CAPS))  # mov r13d, count
    loop = len(code)
    code += bytes.fromhex(
        "410fb63424"  # movzx esi, byte [r12]
        "bf18000000"  # mov edi, PR_CAPBSET_DROP (24)
        "31d2" "4531d2" "4531c0"  # xor edx, edx; xor r10d, r10d; xor r8d, r8d
        "b89d000000" "0f05"  # prctl (157)
        "49ffc4" "41ffcd")  # inc r12; dec r13d
    code += bytes([0x75, (loop - (len(code) + 2)) & 0xFF])  # jnz loop
    code += bytes.fromhex(
        "488b7b10" "488d7310"  # mov rdi, argv[1]; lea rsi, &argv[1]
        "488b03" "488d54c310"  # mov rax, argc; lea rdx, envp
        "b83b000000" "0f05"  # execve (59)
        "bf7f000000" "b83c000000" "0f05")  # exit(127)
    code = code[:lea + 3] + struct.pack("<i", len(code) - (lea + 7)) + code[lea + 7:] + bytes(DROPPED_CAPS)
    size = entry + len(code)
    header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 0x3E, 1, base + entry,
                         64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)  # PT_LOAD, R+X
    return header + program + code


def write_run_dir(run: Path, spec, busybox: Path, availability_zone: str = "nova") -> None:
    """Fill the instance's ``/run/kumo``: init, config drive, keys, and a link to Kumo's busybox."""
    latest = run / "config" / "openstack" / "latest"
    latest.mkdir(parents=True, exist_ok=True)
    _write(run / "init", INIT, 0o755)
    for name in ("busybox", "capdrop"):  # shared (read-only inside) copies on the runtime tmpfs
        if (busybox.parent / name).exists() and not (run / name).exists():
            os.link(busybox.parent / name, run / name)
    keys = dict(spec.public_keys or {})
    meta = {
        "uuid": spec.uuid,
        "name": spec.name,
        "hostname": spec.hostname,
        "launch_index": 0,
        "availability_zone": availability_zone,
        "project_id": spec.project_id,
        "meta": dict(spec.metadata or {}),
        "public_keys": keys,
        "keys": [{"name": n, "type": "ssh", "data": k} for n, k in keys.items()],
        "devices": [],
    }
    if spec.admin_password:
        meta["admin_pass"] = spec.admin_password
    _write(latest / "meta_data.json", json.dumps(meta, indent=1, sort_keys=True), 0o600)
    user_data = latest / "user_data"
    if spec.user_data is not None:
        _write(user_data, spec.user_data, 0o600)
    elif user_data.exists():
        user_data.unlink()
    key_text = "".join(k.rstrip("\n") + "\n" for k in keys.values())
    _write(run / "authorized_keys", key_text, 0o600)


def write_cpuinfo(path: Path, vcpus: int, host: Path = Path("/proc/cpuinfo")) -> None:
    """The instance's ``/proc/cpuinfo`` (``/run/kumo/cpuinfo``, bound over it at boot): the host's first
    ``vcpus`` processors (the last one repeated when the host has fewer), numbered from 0. Rewritten in
    place, so a resize shows through the mount."""
    try:
        blocks = [b for b in host.read_text().split("\n\n") if b.strip()]
    except OSError:
        blocks = []
    blocks = blocks or ["processor\t: 0"]
    out = []
    for n in range(max(1, vcpus)):
        lines = blocks[min(n, len(blocks) - 1)].strip("\n").split("\n")
        out.append("\n".join(f"processor\t: {n}" if line.startswith("processor") else line for line in lines))
    text = "\n\n".join(out) + "\n\n"
    with open(path, "a+") as fh:  # same inode: a mount of it sees the change
        fh.seek(0)
        if fh.read() != text:
            fh.truncate(0)
            fh.write(text)


def _write(path: Path, data, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
