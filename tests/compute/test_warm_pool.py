"""The local driver's warm pool (``local_pool``): first boots take a shell made ahead of them.

Driver-level, on the real kernel: a booted instance is the shell (its cgroups renamed to the instance,
its network namespace bound at ``<instance>/netns``, its own time namespace), the pool refills, a dead
shell is skipped for a cold boot, and ``cleanup`` (``kumo reset``) leaves no shell, group or mount.
"""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from kumo.compute.driver import InstanceSpec, PowerState

if os.geteuid() != 0:
    pytest.skip("the local driver needs root (namespaces, mounts, cgroups)", allow_module_level=True)

from kumo.compute.drivers import local_cgroups, local_pool, local_rootfs
from kumo.compute.drivers.local import LocalDriver, find_busybox
from kumo.testing import wait_for

if find_busybox() is None or not local_cgroups.available():
    pytest.skip("no static busybox or no cgroup v1 hierarchies here", allow_module_level=True)



def _shells(driver: LocalDriver) -> set[str]:
    memory = driver.cgroups.parents["memory"]
    return {p.name for p in memory.iterdir() if p.is_dir() and p.name.startswith(local_pool.PREFIX)} \
        if memory.exists() else set()


@pytest.fixture
def pooled(tmp_path):
    from kumo.image.busybox import build_tar

    image = tmp_path / "busybox.tar"
    image.write_bytes(build_tar("busybox"))
    driver = LocalDriver(SimpleNamespace(data_dir=tmp_path / "data"))
    driver.start_pool(2)
    pids = []
    try:
        yield driver, image, pids
    finally:
        driver.cleanup()
        assert local_rootfs.mounts_under(driver.data_dir) == []
        assert not any(p.exists() for p in driver.cgroups.parents.values())
        for pid in pids:  # every shell the test saw is gone with the pool
            assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def _spec(image: Path, **kw) -> InstanceSpec:
    fields = {"uuid": str(uuidlib.uuid4()), "name": "warm", "hostname": "warm-host", "vcpus": 1, "ram_mb": 96,
              "disk_gb": 1, "image_file": image, "image_id": "img-busybox", "project_id": "p1"}
    return InstanceSpec(**{**fields, **kw})


def test_a_first_boot_takes_a_warm_shell_and_the_pool_refills(pooled):
    driver, image, pids = pooled
    wait_for(lambda: len(driver._pool._ready) == 2)
    ready = {shell.name: shell.proc.pid for shell in driver._pool._ready}
    pids.extend(ready.values())
    assert _shells(driver) == set(ready)
    first = next(iter(ready))

    spec = _spec(image)
    driver.spawn(spec)
    state = json.loads((driver.root / spec.uuid / "state.json").read_text())
    # the shell became the instance: its groups renamed, the unshare it exec'd is the instance's parent
    assert all(Path(p).name == spec.uuid for p in state["cgroups"].values())
    assert first not in _shells(driver) and driver._children[spec.uuid].pid == ready[first]
    assert int(Path(state["cgroups"]["memory"], "memory.limit_in_bytes").read_text()) == 96 * 1024 * 1024
    assert state["pid"] in driver.cgroups.pids(state["cgroups"])
    inside = driver.exec(spec.uuid, ["sh", "-c", "hostname; cat /proc/1/cgroup"])
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.startswith("warm-host\n") and f"/{spec.uuid}" in inside.stdout
    # its network namespace is bound where a network driver plugs into it; its boot clock is its own
    assert os.stat(driver.netns_path(spec.uuid)).st_ino == os.stat(f"/proc/{state['pid']}/ns/net").st_ino
    assert os.readlink(f"/proc/{state['pid']}/ns/time") != os.readlink("/proc/self/ns/time")
    offsets = Path(f"/proc/{state['pid']}/timens_offsets").read_text()
    assert int(offsets.split("boottime")[1].split()[0]) < 0

    wait_for(lambda: len(driver._pool._ready) == 2)  # refilled off the request path
    pids.extend(shell.proc.pid for shell in driver._pool._ready)
    driver.reboot(spec, hard=True)  # later boots are cold, in the same namespace and groups
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert os.stat(driver.netns_path(spec.uuid)).st_ino == os.stat(
        f"/proc/{json.loads((driver.root / spec.uuid / 'state.json').read_text())['pid']}/ns/net").st_ino
    driver.destroy(spec.uuid)
    assert not any(Path(p).exists() for p in state["cgroups"].values())
    assert local_rootfs.mounts_under(driver.root / spec.uuid) == []


def test_a_dead_shell_is_skipped_and_a_new_driver_sweeps_shells(pooled, tmp_path):
    driver, image, pids = pooled
    wait_for(lambda: len(driver._pool._ready) == 2)
    for shell in list(driver._pool._ready):
        pids.append(shell.proc.pid)
        os.kill(shell.proc.pid, 9)
        shell.proc.wait(5)
    spec = _spec(image)
    driver.spawn(spec)  # no live shell: a cold boot
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    wait_for(lambda: len(driver._pool._ready) == 2)
    taken, real_take = [], driver._pool.take

    def take_then_die():  # a shell that dies once taken: the boot goes on cold, in the groups it took over
        shell = real_take()
        taken.append(shell.proc.pid)
        os.kill(shell.proc.pid, 9)
        shell.proc.wait(5)
        return shell

    driver._pool.take = take_then_die
    other = _spec(image)
    driver.spawn(other)
    driver._pool.take = real_take
    state = json.loads((driver.root / other.uuid / "state.json").read_text())
    assert taken and driver.power_state(other.uuid) == PowerState.RUNNING
    assert all(Path(p).name == other.uuid for p in state["cgroups"].values())
    assert os.stat(driver.netns_path(other.uuid)).st_ino == os.stat(f"/proc/{state['pid']}/ns/net").st_ino
    wait_for(lambda: len(driver._pool._ready) == 2 and all(s.proc.poll() is None for s in driver._pool._ready))
    pids.extend(shell.proc.pid for shell in driver._pool._ready)
    # what a crash leaves: shells with no instance behind them, removed by the next driver of the data dir
    driver._pool._stopped = True  # as if this Kumo died: the shells stay
    LocalDriver(SimpleNamespace(data_dir=driver.data_dir))
    assert _shells(driver) == set()
    assert driver.power_state(spec.uuid) == PowerState.RUNNING  # the instances are untouched
    assert driver.power_state(other.uuid) == PowerState.RUNNING
    driver._pool = None
