"""A server booted through the real ``openstack`` CLI is a real instance on the local backend.

The test looks inside it with the driver's ``exec`` (hostname, the flavor's memory limit, the key,
user_data, metadata), reads its console through the API, and checks that deleting it leaves no
process, cgroup, mount or file behind.
"""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from pathlib import Path

import httpx
import pytest

if os.geteuid() != 0:
    pytest.skip("booting real instances needs root (the local backend)", allow_module_level=True)
if not (Path(__file__).parents[2] / "kumo" / "compute" / "http").is_dir():
    pytest.skip("the compute API (kumo/compute/http) is not there yet", allow_module_level=True)

from kumo.compute.driver import PowerState  # noqa: E402
from kumo.compute.drivers import local_rootfs  # noqa: E402
from kumo.compute.drivers.local import LocalDriver  # noqa: E402
from kumo.config import Settings  # noqa: E402
from kumo.testing import wait_for  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJiZadV4rqI1yxmB7/RiYzREU4FEEhZXgEMtXU1jxH79 kumo@e2e"




def test_openstack_server_create_boots_a_real_instance(cloud, local, tmp_path):
    name = f"e2e-{uuidlib.uuid4().hex[:8]}"
    conn = cloud.sdk()
    keypair = conn.compute.create_keypair(name=name, public_key=KEY)
    user_data = tmp_path / "user-data"
    user_data.write_text("#!/bin/sh\necho user-data-ran\n")
    server = None
    try:
        server = cloud.openstack("server", "create", "--image", "busybox", "--flavor", "m1.tiny", "--key-name",
                                 name, "--user-data", str(user_data), "--property", "role=e2e", "--wait",
                                 "-f", "json", name)
        sid = server["id"]
        assert server["status"] == "ACTIVE"
        assert local.power_state(sid) == PowerState.RUNNING

        def inside(script: str) -> str:
            proc = local.exec(sid, ["/bin/sh", "-c", script])
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        assert inside("hostname").strip() == name
        assert inside("cat /root/.ssh/authorized_keys").strip() == KEY
        assert inside("cat /run/kumo/config/openstack/latest/user_data") == user_data.read_text()
        meta = json.loads(inside("cat /run/kumo/config/openstack/latest/meta_data.json"))
        assert meta["uuid"] == sid and meta["meta"] == {"role": "e2e"} and meta["public_keys"] == {name: KEY}
        state = json.loads((local.root / sid / "state.json").read_text())
        limit = Path(state["cgroups"]["memory"], "memory.limit_in_bytes").read_text()
        assert int(limit) == 512 * 1024 * 1024  # m1.tiny
        assert "/run/kumo/init" in inside("tr '\\0' ' ' < /proc/1/cmdline")
        inside("echo e2e-console-line > /dev/console")
        console = wait_for(lambda: (text := conn.compute.get_server_console_output(sid, length=20)["output"])
                        and "e2e-console-line" in text and text)
        assert f"{name} login:" in console

        conn.compute.delete_server(sid)
        conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=30)
        server = None
        wait_for(lambda: not (local.root / sid).exists())
        assert local.power_state(sid) == PowerState.NOSTATE
        assert local_rootfs.mounts_under(local.root / sid) == []
        assert not any(Path(p).exists() for p in state["cgroups"].values())
        assert not Path(f"/proc/{state['pid']}").exists()
    finally:
        if server is not None:
            conn.compute.delete_server(server["id"], ignore_missing=True)
        conn.compute.delete_keypair(keypair, ignore_missing=True)


def test_instances_survive_kill_9_and_reset_removes_them(fresh_cloud):
    import signal
    import subprocess
    import sys

    first = fresh_cloud()
    if httpx.get(first.url + "/healthz").json().get("backend") != "local":
        pytest.skip("this Kumo runs the simulated backend")
    conn = first.sdk()
    image = conn.image.find_image("busybox")
    flavor = conn.compute.find_flavor("m1.tiny")
    server = conn.compute.create_server(name="survivor", image_id=image.id, flavor_id=flavor.id, networks="none")
    server = conn.compute.wait_for_server(server, interval=0.05, wait=30)
    data_dir = first.server.data_dir
    local = LocalDriver(Settings(data_dir=data_dir))
    state = json.loads((local.root / server.id / "state.json").read_text())

    first.server.stop(signal.SIGKILL)  # the instance is in its own session: it keeps running
    assert local.power_state(server.id) == PowerState.RUNNING

    second = fresh_cloud()  # same data dir: finds the instance again, does not boot it twice
    again = second.sdk().compute.get_server(server.id)
    assert again.status == "ACTIVE"
    assert json.loads((local.root / server.id / "state.json").read_text())["pid"] == state["pid"]
    assert local.exec(server.id, ["hostname"]).stdout.strip() == "survivor"
    second.server.stop()

    proc = subprocess.run([sys.executable, "-m", "kumo", "reset", "--data-dir", str(data_dir), "--yes"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not Path(f"/proc/{state['pid']}").exists()
    assert not any(Path(p).exists() for p in state["cgroups"].values())
    assert local_rootfs.mounts_under(Path(data_dir).resolve()) == []
    assert not Path(data_dir).exists()


def _loops_of(volume_file: Path) -> list[str]:
    from kumo.volume.drivers.loop import bound_devices

    return [dev for dev, back in bound_devices() if back == str(volume_file.resolve())]


def test_detach_and_delete_release_the_loop_device(cloud, local):
    """A volume's loop device is bound while an instance has it attached, and freed when Nova detaches
    it, or deletes the server it was attached to."""
    conn = cloud.sdk()
    image = conn.image.find_image("busybox")
    flavor = conn.compute.find_flavor("m1.tiny")
    server, volumes = None, []
    try:
        server = conn.compute.create_server(name=f"loops-{uuidlib.uuid4().hex[:8]}", image_id=image.id,
                                            flavor_id=flavor.id, networks="none")
        for _ in range(2):
            volumes.append(conn.block_storage.create_volume(size=1, name=f"loops-{uuidlib.uuid4().hex[:8]}"))
        server = conn.compute.wait_for_server(server, interval=0.05, wait=30)
        files = [cloud.server.data_dir / "volumes" / f"volume-{v.id}" for v in volumes]
        for volume in volumes:
            conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=30)
            conn.compute.create_volume_attachment(server, volume_id=volume.id)
        for volume in volumes:
            conn.block_storage.wait_for_status(volume, "in-use", interval=0.05, wait=30)
        assert [len(_loops_of(f)) for f in files] == [1, 1]
        names = local.exec(server.id, ["ls", "/dev"]).stdout.split()
        assert "vdb" in names and "vdc" in names, names

        conn.compute.delete_volume_attachment(server, volumes[0].id)
        conn.block_storage.wait_for_status(volumes[0], "available", interval=0.05, wait=30)
        assert _loops_of(files[0]) == [] and len(_loops_of(files[1])) == 1

        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=0.05, wait=30)
        server = None
        conn.block_storage.wait_for_status(volumes[1], "available", interval=0.05, wait=30)
        assert _loops_of(files[1]) == []
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=0.1, wait=30)
        for volume in volumes:
            conn.block_storage.wait_for_status(volume, "available", interval=0.1, wait=30)
            conn.block_storage.delete_volume(volume, ignore_missing=True)


def test_active_means_plugged(cloud, local):
    """As Nova waits for network-vif-plugged, a server is ACTIVE only once its port is plugged: the first
    time the API shows it ACTIVE, the port is ACTIVE and its interface is inside the instance."""
    conn = cloud.sdk()
    tag = uuidlib.uuid4().hex[:8]
    network = conn.network.create_network(name=f"plug-{tag}")
    server = None
    try:
        conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.199.77.0/24", name=f"plug-{tag}")
        image = conn.image.find_image("busybox")
        flavor = conn.compute.find_flavor("m1.tiny")
        server = conn.compute.create_server(name=f"plug-{tag}", image_id=image.id, flavor_id=flavor.id,
                                            networks=[{"uuid": network.id}])
        server = conn.compute.wait_for_server(server, interval=0.02, wait=60)
        port = next(conn.network.ports(device_id=server.id))
        assert port.status == "ACTIVE"
        links = local.exec(server.id, ["ip", "-o", "link"]).stdout
        assert port.mac_address in links, links
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=0.05, wait=30)
        conn.network.delete_network(network, ignore_missing=True)
