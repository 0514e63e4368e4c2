"""The local compute driver on the real kernel: namespaces, overlay roots, cgroups, volumes.

Driver-level (no API): each test boots instances from a busybox root filesystem, looks inside
with ``LocalDriver.exec``, and checks that destroying them leaves no process, mount, cgroup,
loop device or file behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tarfile
import time
import uuid as uuidlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from kumo.compute.driver import BlockDevice, DriverError, InstanceSpec, PowerState

if os.geteuid() != 0:
    pytest.skip("the local driver needs root (namespaces, mounts, cgroups)", allow_module_level=True)

from kumo.compute.drivers import local_cgroups, local_rootfs  # noqa: E402
from kumo.compute.drivers.local import LocalDriver, find_busybox  # noqa: E402

if find_busybox() is None:
    pytest.skip("no static busybox on this host (Debian busybox-static; scripts/setup.sh installs it)",
                allow_module_level=True)
if not local_cgroups.available():
    pytest.skip("no cgroup v1 cpu/memory/pids/freezer hierarchies here", allow_module_level=True)


def _busybox_tar(marker: str) -> bytes:
    try:
        from kumo.image.busybox import build_tar
    except ImportError:  # the image service's builder is the reference; a minimal one otherwise
        import io
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for folder in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run"):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            tar.add(find_busybox(), "bin/busybox")
            for applet in ("sh", "ps", "cat", "echo", "ls", "hostname", "sleep", "dd", "ip", "mount", "tr"):
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
            data = f"{marker}\n".encode()
            info = tarfile.TarInfo("etc/kumo-image")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()
    return build_tar(marker)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    for name in ("busybox", "busybox-alt"):
        paths[name] = folder / f"{name}.tar"
        paths[name].write_bytes(_busybox_tar(name))
    return paths


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("local-driver")
    drv = LocalDriver(SimpleNamespace(data_dir=data_dir))
    yield drv
    drv.cleanup()
    assert local_rootfs.mounts_under(drv.data_dir) == []
    assert not any(p.exists() for p in drv.cgroups.parents.values())


@pytest.fixture
def boot(driver, images):
    """Boot instances for one test; destroy them after it and check nothing is left."""
    made = []

    def make(image: str = "busybox", **kw) -> InstanceSpec:
        fields = dict(uuid=str(uuidlib.uuid4()), name="vm", hostname="vm", vcpus=1, ram_mb=64, disk_gb=1,
                      image_file=images[image], image_id=f"img-{image}", project_id="p1")
        fields.update(kw)
        spec = InstanceSpec(**fields)
        made.append(spec.uuid)
        driver.spawn(spec)
        return spec

    yield make
    for uuid in made:
        destroy_and_check(driver, uuid)


def instance_pids(driver: LocalDriver, uuid: str) -> set[int]:
    state = json.loads((driver.root / uuid / "state.json").read_text())
    return driver.cgroups.pids(state["cgroups"]) | {state["pid"]}


def destroy_and_check(driver: LocalDriver, uuid: str) -> None:
    state_file = driver.root / uuid / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    pids = driver.cgroups.pids(state.get("cgroups") or {}) | ({state["pid"]} if state.get("pid") else set())
    child = driver._children.get(uuid)
    if child is not None:
        pids.add(child.pid)
    driver.destroy(uuid)
    driver.destroy(uuid)  # idempotent
    assert not (driver.root / uuid).exists()
    assert not (driver.runtime / uuid).exists()
    assert local_rootfs.mounts_under(driver.root / uuid) == []
    assert not any(Path(p).exists() for p in (state.get("cgroups") or {}).values())
    assert not any(Path(p).exists() for p in driver.cgroups.paths_for(uuid).values())
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert uuid not in driver.list_instances()
    assert driver.power_state(uuid) == PowerState.NOSTATE


def run(driver, uuid, script: str) -> str:
    proc = driver.exec(uuid, ["/bin/sh", "-c", script])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_instance_is_isolated_and_configured(driver, boot):
    spec = boot(hostname="web-1", name="Web 1", vcpus=2, ram_mb=96, user_data=b"#!/bin/sh\necho hi\n",
                metadata={"role": "web"}, public_keys={"mykey": "ssh-ed25519 AAAAC3Nz test@kumo"},
                admin_password="s3cret")
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert spec.uuid in driver.list_instances()
    assert run(driver, spec.uuid, "hostname").strip() == "web-1"
    assert run(driver, spec.uuid, "cat /etc/hostname").strip() == "web-1"
    # pid 1 is Kumo's init; only the instance's own processes are visible
    assert "/run/kumo/init" in run(driver, spec.uuid, "tr '\\0' ' ' < /proc/1/cmdline")
    pids = sorted(int(p) for p in run(driver, spec.uuid, "ls /proc | grep -E '^[0-9]+$'").split())
    assert pids[0] == 1 and len(pids) < 10, pids
    assert str(os.getpid()) not in run(driver, spec.uuid, "ps -o pid,comm")
    # the image's marker, an empty network namespace with loopback up, a minimal /dev
    assert run(driver, spec.uuid, "cat /etc/kumo-image").strip() == "busybox"
    links = run(driver, spec.uuid, "ip -o link")
    assert "lo:" in links and "UP" in links and len(links.strip().splitlines()) == 1, links
    assert run(driver, spec.uuid, "head -c 4 /dev/zero | wc -c; ls /dev").split()[0] == "4"
    assert run(driver, spec.uuid, "echo x > /dev/null; cat /proc/mounts | cut -d' ' -f2 | sort | tr '\\n' ' '") \
        .split() == ["/", "/dev", "/dev/pts", "/proc", "/proc/cpuinfo", "/run/kumo", "/sys"]
    # the flavor's limits, on the cgroups the instance's processes are in
    state = json.loads((driver.root / spec.uuid / "state.json").read_text())
    memory = Path(state["cgroups"]["memory"])
    assert int((memory / "memory.limit_in_bytes").read_text()) == 96 * 1024 * 1024
    cpu = Path(state["cgroups"]["cpu"])
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 2 * int((cpu / "cpu.cfs_period_us").read_text())
    assert state["pid"] in {int(p) for p in (memory / "cgroup.procs").read_text().split()}
    inner = run(driver, spec.uuid, "cat /proc/self/cgroup")
    assert memory.name in inner
    # the config drive, the key, and user_data
    meta = json.loads(run(driver, spec.uuid, "cat /run/kumo/config/openstack/latest/meta_data.json"))
    assert meta["uuid"] == spec.uuid and meta["name"] == "Web 1" and meta["hostname"] == "web-1"
    assert meta["meta"] == {"role": "web"} and meta["project_id"] == "p1"
    assert meta["public_keys"] == {"mykey": "ssh-ed25519 AAAAC3Nz test@kumo"}
    assert meta["admin_pass"] == "s3cret" and meta["availability_zone"] == "nova"
    assert run(driver, spec.uuid, "cat /run/kumo/config/openstack/latest/user_data") == "#!/bin/sh\necho hi\n"
    assert run(driver, spec.uuid, "cat /root/.ssh/authorized_keys") == "ssh-ed25519 AAAAC3Nz test@kumo\n"
    # the config drive and Kumo's busybox are read-only inside
    proc = driver.exec(spec.uuid, ["/bin/sh", "-c", "echo x > /run/kumo/init || echo x >> /run/kumo/busybox"])
    assert proc.returncode != 0 and "Read-only" in proc.stderr
    # the console: init's messages and anything written to /dev/console
    run(driver, spec.uuid, "echo hello-console > /dev/console")
    deadline = time.monotonic() + 3
    while "hello-console" not in driver.console_output(spec.uuid) and time.monotonic() < deadline:
        time.sleep(0.02)
    log = driver.console_output(spec.uuid)
    assert "web-1 login:" in log and "hello-console" in log
    assert driver.console_output(spec.uuid, lines=1).count("\n") == 1
    assert driver.console_output(spec.uuid, lines=0) == ""


def test_instance_root_cannot_reach_past_its_namespaces(driver, boot):
    import platform
    if platform.machine() not in ("x86_64", "amd64"):
        pytest.skip("capabilities are dropped by an x86-64 helper only")
    spec = boot()
    # the init and its children lost sys_admin, sys_module, dac_read_search...; kept net_admin
    bounding = int(run(driver, spec.uuid, "grep CapBnd /proc/1/status").split()[1], 16)
    for cap in (2, 16, 17, 21, 25):
        assert not bounding & (1 << cap), cap
    assert bounding & (1 << 12) and bounding & (1 << 0)
    # so neither commands run with exec nor processes of the instance (here /etc/rc.local, run by its init at
    # boot) can remount the shared read-only files writable, nor mount anything; a privileged exec can
    proc = driver.exec(spec.uuid, ["/bin/sh", "-c", "mount -o remount,rw /run/kumo"])
    assert proc.returncode != 0
    assert not int(run(driver, spec.uuid, "grep CapEff /proc/self/status").split()[1], 16) & (1 << 21)
    assert driver.exec(spec.uuid, ["/bin/sh", "-c", "mount -t tmpfs t /tmp && umount /tmp"],
                       privileged=True).returncode == 0
    run(driver, spec.uuid, "printf '#!/bin/sh\\n(mount -o remount,rw /run/kumo; echo remount=$?; "
                           "mount -t tmpfs t /tmp; echo tmpfs=$?) > /root/out 2>&1\\n' > /etc/rc.local; "
                           "chmod +x /etc/rc.local")
    driver.reboot(spec, hard=True)
    out = driver.root / spec.uuid / "upper" / "root" / "out"
    deadline = time.monotonic() + 5
    while "tmpfs=" not in (out.read_text() if out.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.02)
    text = out.read_text()
    assert "remount=" in text and "remount=0" not in text and "tmpfs=" in text and "tmpfs=0" not in text, text


def test_admin_password_only_when_given(driver, boot):
    spec = boot()
    meta = json.loads(run(driver, spec.uuid, "cat /run/kumo/config/openstack/latest/meta_data.json"))
    assert "admin_pass" not in meta and meta["public_keys"] == {}
    assert driver.exec(spec.uuid, ["/bin/sh", "-c", "cat /root/.ssh/authorized_keys"]).returncode != 0
    assert driver.exec(spec.uuid, ["/bin/sh", "-c", "cat /run/kumo/config/openstack/latest/user_data"]) \
        .returncode != 0


def test_volumes_attach_write_read_detach(driver, boot, tmp_path):
    spec = boot()
    backing = tmp_path / "vol.img"
    with open(backing, "wb") as fh:
        fh.truncate(8 * 1024 * 1024)
    loop = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        device = BlockDevice(volume_id="vol-1", path=Path(loop), device_name="/dev/vdb")
        driver.attach_volume(spec.uuid, device)
        assert run(driver, spec.uuid, "ls -l /dev/vdb").startswith("b")
        run(driver, spec.uuid, "echo written-inside | dd of=/dev/vdb bs=512 count=1 conv=sync 2>/dev/null")
        subprocess.run(["sync"], check=True)
        with open(loop, "rb") as fh:
            assert fh.read(14) == b"written-inside"
        with open(loop, "r+b") as fh:
            fh.seek(4096)
            fh.write(b"written-outside")
        assert run(driver, spec.uuid, "dd if=/dev/vdb bs=4096 skip=1 count=1 2>/dev/null | head -c 15") \
            == "written-outside"
        # another device the instance was not given stays out of reach even if it makes the node
        proc = driver.exec(spec.uuid, ["/bin/sh", "-c", "mknod /tmp/disk b 254 0 && head -c 1 /tmp/disk"])
        assert proc.returncode != 0
        driver.detach_volume(spec.uuid, device)
        assert driver.exec(spec.uuid, ["/bin/sh", "-c", "test -e /dev/vdb"]).returncode != 0
        driver.detach_volume(spec.uuid, device)  # idempotent
        # a volume given as a plain file: the driver sets up (and frees) its own loop device
        plain = BlockDevice(volume_id="vol-2", path=backing, device_name="/dev/vdc")
        driver.attach_volume(spec.uuid, plain)
        assert run(driver, spec.uuid, "head -c 14 /dev/vdc") == "written-inside"
        own_loop = json.loads((driver.root / spec.uuid / "state.json").read_text())["devices"]["/dev/vdc"]["loop"]
        assert own_loop and Path(f"/sys/block/{Path(own_loop).name}/loop").exists()
        driver.detach_volume(spec.uuid, plain)
        assert not Path(f"/sys/block/{Path(own_loop).name}/loop/backing_file").exists() or \
            Path(f"/sys/block/{Path(own_loop).name}/loop/backing_file").read_text().strip() != str(backing)
        with pytest.raises(DriverError):
            driver.attach_volume(spec.uuid, BlockDevice(volume_id="v", path=Path(loop), device_name="/dev/null"))
    finally:
        subprocess.run(["losetup", "-d", loop], capture_output=True)


def _counter(driver, uuid) -> Path:
    run(driver, uuid, "(i=0; while :; do i=$((i+1)); echo $i > /dev/shm/counter; done) >/dev/null 2>&1 &")
    return driver.runtime / uuid / "dev" / "shm" / "counter"  # /dev is on the runtime tmpfs


def _advances(path: Path, timeout: float = 5.0) -> bool:
    """The counter's file changes (it is rewritten in a loop unless the instance is frozen)."""
    first = path.read_text() if path.exists() else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() not in ("", first):
            return True
        time.sleep(0.01)
    return False


def _still(path: Path) -> bool:
    """The counter's file does not change at all for a while."""
    first = path.read_text()
    time.sleep(0.3)
    return path.read_text() == first


def _memory(driver, uuid) -> tuple[int, str]:
    """(memory.usage_in_bytes, memory.soft_limit_in_bytes) of the instance's memory cgroup."""
    group = Path(json.loads((driver.root / uuid / "state.json").read_text())["cgroups"]["memory"])
    return (int((group / "memory.usage_in_bytes").read_text()),
            (group / "memory.soft_limit_in_bytes").read_text().strip())


def test_pause_and_suspend_freeze_processes(driver, boot):
    spec = boot()
    counter = _counter(driver, spec.uuid)
    assert _advances(counter)
    # 8 MiB of file data in the instance's page cache (its upper dir), charged to its memory cgroup
    run(driver, spec.uuid, "dd if=/dev/zero of=/root/cached bs=1M count=8 2>/dev/null")
    unlimited = _memory(driver, spec.uuid)[1]
    driver.pause(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.PAUSED
    assert _still(counter)
    paused = _memory(driver, spec.uuid)
    assert paused[0] >= 8 << 20 and paused[1] == unlimited  # paused: frozen, everything stays in memory
    driver.unpause(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert _advances(counter)
    driver.suspend(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.SUSPENDED
    assert _still(counter)
    # suspended: its state saved (the file is on disk, the suspension recorded) and its memory given back
    usage, soft = _memory(driver, spec.uuid)
    assert usage <= paused[0] - (6 << 20) and soft == "0", (paused, usage, soft)
    state = json.loads((driver.root / spec.uuid / "state.json").read_text())
    assert state["suspended"] and state["released_bytes"] >= 6 << 20
    assert (driver.root / spec.uuid / "upper" / "root" / "cached").stat().st_size == 8 << 20
    assert LocalDriver(SimpleNamespace(data_dir=driver.data_dir)).power_state(spec.uuid) == PowerState.SUSPENDED
    driver.resume(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert _advances(counter)
    assert _memory(driver, spec.uuid)[1] == unlimited
    assert run(driver, spec.uuid, "wc -c < /root/cached").strip() == str(8 << 20)
    # a paused instance still stops (thawed first)
    driver.pause(spec.uuid)
    driver.power_off(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.SHUTDOWN
    with pytest.raises(DriverError):
        driver.pause(spec.uuid)


def boot_second(init_pid: int) -> int:
    """The instance's boot time to the second, as a guest derives it from its own ``/proc/uptime``."""
    uptime = subprocess.run(["nsenter", f"--target={init_pid}", "--time", "--", "cat", "/proc/uptime"],
                            capture_output=True, text=True, check=True).stdout
    return math.floor(time.time() - math.floor(float(uptime.split()[0])))


def test_power_cycle_reboot_rebuild_and_snapshot(driver, boot, tmp_path):
    spec = boot(hostname="cycle")
    run(driver, spec.uuid, "echo kept > /root/file")
    old_pids = instance_pids(driver, spec.uuid)
    driver.power_off(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.SHUTDOWN
    assert "reboot: Power down" in driver.console_output(spec.uuid)
    assert not any(Path(f"/proc/{p}").exists() for p in old_pids if p)
    with pytest.raises(DriverError):
        driver.exec(spec.uuid, ["true"])
    driver.power_off(spec.uuid)  # idempotent
    # snapshot of a stopped instance
    driver.snapshot(spec.uuid, tmp_path / "stopped.tar")
    with tarfile.open(tmp_path / "stopped.tar") as tar:
        assert tar.extractfile("./root/file").read() == b"kept\n"
    driver.power_on(spec)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert run(driver, spec.uuid, "cat /root/file") == "kept\n"
    driver.power_on(spec)  # idempotent: still the same init
    netns = run(driver, spec.uuid, "readlink /proc/1/ns/net")
    init = json.loads((driver.root / spec.uuid / "state.json").read_text())["pid"]
    assert os.stat(driver.netns_path(spec.uuid)).st_ino == os.stat(f"/proc/{init}/ns/net").st_ino
    for hard in (False, True):
        before = json.loads((driver.root / spec.uuid / "state.json").read_text())["pid"]
        booted = boot_second(before)
        driver.reboot(spec, hard=hard)
        after = json.loads((driver.root / spec.uuid / "state.json").read_text())["pid"]
        assert before != after and driver.power_state(spec.uuid) == PowerState.RUNNING
        assert boot_second(after) > booted  # as Tempest sees a reboot: now − ⌊uptime⌋, to the second
        assert run(driver, spec.uuid, "readlink /proc/1/ns/net") == netns  # the same network namespace
        assert run(driver, spec.uuid, "cat /root/file") == "kept\n"
    # snapshot of a running instance: its files, without /proc, /sys, /dev or /run/kumo contents
    run(driver, spec.uuid, "echo snap > /etc/snapshot-me")
    driver.snapshot(spec.uuid, tmp_path / "running.tar")
    with tarfile.open(tmp_path / "running.tar") as tar:
        names = set(tar.getnames())
        assert tar.extractfile("./etc/snapshot-me").read() == b"snap\n"
    assert "./bin/busybox" in names and "./proc" in names
    assert not any(n.startswith(("./proc/", "./sys/", "./dev/", "./run/kumo")) for n in names), \
        sorted(n for n in names if n.startswith(("./proc/", "./sys/", "./dev/", "./run/kumo")))
    # resize: new limits, live
    driver.resize(InstanceSpec(**{**spec.__dict__, "ram_mb": 128, "vcpus": 3}))
    state = json.loads((driver.root / spec.uuid / "state.json").read_text())
    assert int(Path(state["cgroups"]["memory"], "memory.limit_in_bytes").read_text()) == 128 * 1024 * 1024
    assert int(Path(state["cgroups"]["cpu"], "cpu.cfs_quota_us").read_text()) == 300_000
    # rebuild onto another image drops the instance's writes
    rebuilt = InstanceSpec(**{**spec.__dict__, "image_file": spec.image_file.with_name("busybox-alt.tar"),
                              "image_id": "img-busybox-alt"})
    driver.rebuild(rebuilt)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert run(driver, spec.uuid, "cat /etc/kumo-image").strip() == "busybox-alt"
    assert driver.exec(spec.uuid, ["/bin/sh", "-c", "cat /root/file"]).returncode != 0
    assert run(driver, spec.uuid, "hostname").strip() == "cycle"


def test_clean_stop_from_inside(driver, boot):
    spec = boot()
    driver.exec(spec.uuid, ["/bin/sh", "-c", "poweroff"])
    deadline = time.monotonic() + 5
    while driver.power_state(spec.uuid) != PowerState.SHUTDOWN and time.monotonic() < deadline:
        time.sleep(0.02)
    assert driver.power_state(spec.uuid) == PowerState.SHUTDOWN
    driver.power_on(spec)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING


def test_a_new_driver_finds_running_instances(driver, boot):
    spec = boot()
    again = LocalDriver(SimpleNamespace(data_dir=driver.data_dir))
    assert spec.uuid in again.list_instances()
    assert again.power_state(spec.uuid) == PowerState.RUNNING
    assert run(again, spec.uuid, "hostname").strip() == "vm"
    # a recorded pid that now belongs to another process is not the instance
    state_file = driver.root / spec.uuid / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "start": state["start"] + 1}))
    assert again.power_state(spec.uuid) == PowerState.SHUTDOWN
    state_file.write_text(json.dumps(state))
    assert again.power_state(spec.uuid) == PowerState.RUNNING


CRASHING_KUMO = r'''
import os, sys, time
from pathlib import Path
from types import SimpleNamespace
from kumo.compute.drivers import local

def die(proc):  # Kumo is killed while the instance boots: nothing recorded its pid
    time.sleep(float(sys.argv[3]))
    os._exit(9)

local.LocalDriver._read_status = staticmethod(die)
driver = local.LocalDriver(SimpleNamespace(data_dir=Path(sys.argv[1])))
driver.spawn(local.InstanceSpec(uuid=sys.argv[2], name="c", hostname="c", vcpus=1, ram_mb=64, disk_gb=1,
                                image_file=Path(sys.argv[4]), image_id="img-busybox"))
'''


@pytest.mark.parametrize("delay", [0, 0.3])
def test_destroy_after_kumo_died_mid_boot(driver, images, delay):
    import sys
    uuid = str(uuidlib.uuid4())
    subprocess.run([sys.executable, "-c", CRASHING_KUMO, str(driver.data_dir), uuid, str(delay),
                    str(images["busybox"])], timeout=60)
    assert driver.power_state(uuid) == PowerState.NOSTATE  # booted or not, its pid was never recorded
    started = driver.cgroups.pids(driver.cgroups.paths_for(uuid))
    destroy_and_check(driver, uuid)
    time.sleep(0.2)  # a setup script still on its way must not survive either
    assert not any(Path(f"/proc/{p}").exists() for p in started)
    leftover = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
                .stdout.splitlines() if uuid in line]
    assert leftover == []


def test_ext4_image_and_bad_images(driver, boot, images, tmp_path):
    if not shutil.which("mkfs.ext4"):
        pytest.skip("mkfs.ext4 (e2fsprogs) is not installed")
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "-xf", str(images["busybox"]), "-C", str(tree)], check=True)
    (tree / "etc" / "kumo-image").write_text("ext4\n")
    image = tmp_path / "root.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-d", str(tree), str(image), "16M"], check=True, capture_output=True)
    spec = boot(image_file=image, image_id="img-ext4")
    assert run(driver, spec.uuid, "cat /etc/kumo-image") == "ext4\n"
    run(driver, spec.uuid, "echo upper > /etc/written")
    assert not (tree / "etc" / "written").exists()
    # boot from a volume holding an ext4 root (a plain file here: the driver sets up the loop device),
    # with a data volume attached from the start
    volume = tmp_path / "root-volume.ext4"
    shutil.copyfile(image, volume)
    data = tmp_path / "data-volume"
    data.write_bytes(b"data-volume-bytes".ljust(4096, b"\0"))
    from_volume = boot(image_file=None, image_id=None,
                       root_device=BlockDevice(volume_id="vol-root", path=volume, device_name="/dev/vda"),
                       block_devices=(BlockDevice(volume_id="vol-data", path=data, device_name="/dev/vdb"),))
    assert run(driver, from_volume.uuid, "cat /etc/kumo-image") == "ext4\n"
    assert run(driver, from_volume.uuid, "head -c 17 /dev/vdb") == "data-volume-bytes"
    run(driver, from_volume.uuid, "echo on-the-volume > /etc/written; sync")
    loops = json.loads((driver.root / from_volume.uuid / "state.json").read_text())["loops"]
    destroy_and_check(driver, from_volume.uuid)
    for loop in loops.values():  # the driver's own loop devices are freed
        backing = Path(f"/sys/block/{Path(loop).name}/loop/backing_file")
        assert not backing.exists() or backing.read_text().strip() not in (str(volume), str(data))
    tree2 = tmp_path / "check"
    tree2.mkdir()
    subprocess.run(["debugfs", "-R", "dump /etc/written " + str(tree2 / "written"), str(volume)],
                   check=True, capture_output=True)
    assert (tree2 / "written").read_text() == "on-the-volume\n"
    # bytes that are no root filesystem: a clear error, and nothing half-made left behind
    junk = tmp_path / "junk.qcow2"
    junk.write_bytes(b"QFI\xfb" + b"\0" * 4096)
    bad = str(uuidlib.uuid4())
    with pytest.raises(DriverError, match="not a bootable root filesystem"):
        driver.spawn(InstanceSpec(uuid=bad, name="bad", hostname="bad", vcpus=1, ram_mb=64, disk_gb=1,
                                  image_file=junk, image_id="img-junk"))
    destroy_and_check(driver, bad)
    with pytest.raises(DriverError):
        driver.spawn(InstanceSpec(uuid=bad, name="bad", hostname="bad", vcpus=1, ram_mb=64, disk_gb=1,
                                  image_file=tmp_path / "missing", image_id="img-missing"))
    destroy_and_check(driver, bad)


def test_runtime_tmpfs_goes_with_the_last_instance(images, tmp_path):
    drv = LocalDriver(SimpleNamespace(data_dir=tmp_path / "data"))
    spec = InstanceSpec(uuid=str(uuidlib.uuid4()), name="t", hostname="t", vcpus=1, ram_mb=64, disk_gb=1,
                        image_file=images["busybox"], image_id="img-busybox")
    drv.spawn(spec)
    assert local_rootfs.is_mounted(drv.runtime)
    destroy_and_check(drv, spec.uuid)
    assert local_rootfs.mounts_under(drv.data_dir) == []  # only the image cache is left, unmounted
    assert not any(p.exists() for p in drv.cgroups.parents.values())
    drv.cleanup()


def test_reset_cleans_everything(images, tmp_path):
    from kumo import backends
    from kumo.config import Settings
    settings = Settings(data_dir=tmp_path / "data")
    drv = LocalDriver(settings)
    specs = [InstanceSpec(uuid=str(uuidlib.uuid4()), name="r", hostname="r", vcpus=1, ram_mb=64, disk_gb=1,
                          image_file=images["busybox"], image_id="img-busybox") for _ in range(2)]
    for spec in specs:
        drv.spawn(spec)
    pids = set().union(*(instance_pids(drv, s.uuid) for s in specs))
    drv.power_off(specs[1].uuid)
    backends.cleanup(settings)
    assert local_rootfs.mounts_under(settings.data_dir.resolve()) == []
    assert not any(p.exists() for p in drv.cgroups.parents.values())
    assert not any(Path(f"/proc/{p}").exists() for p in pids)
    assert not (settings.data_dir / "instances").exists() or not list((settings.data_dir / "instances").iterdir())
