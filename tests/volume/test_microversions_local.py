"""3.42 on the local backend: extending a volume attached to a real instance grows the device the instance
sees (the loop device's capacity follows its file), and the volume is in-use again."""

from __future__ import annotations

import os
import time
import uuid

import pytest

if os.geteuid() != 0:
    pytest.skip("real instances and loop devices need root (the local backend)", allow_module_level=True)



def test_extend_in_use_volume_grows_the_instances_device(cloud, local):
    conn = cloud.sdk()
    name = f"mvext-{uuid.uuid4().hex[:8]}"
    server = conn.compute.create_server(name=name, image_id=conn.image.find_image("busybox").id,
                                        flavor_id=conn.compute.find_flavor("m1.tiny").id, networks="none")
    volume = conn.block_storage.create_volume(size=1, name=name)
    try:
        server = conn.compute.wait_for_server(server, interval=0.05, wait=60)
        conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=30)
        conn.compute.create_volume_attachment(server, volume_id=volume.id)
        conn.block_storage.wait_for_status(volume, "in-use", interval=0.05, wait=30)

        def size_inside() -> int:
            out = local.exec(server.id, ["blockdev", "--getsize64", "/dev/vdb"])
            assert out.returncode == 0, out.stderr
            return int(out.stdout.strip())

        assert size_inside() == 1 << 30
        conn.block_storage.extend_volume(volume, 2)  # openstacksdk negotiates 3.71: in-use allowed
        deadline = time.monotonic() + 30
        while (volume := conn.block_storage.get_volume(volume.id)).status != "in-use":
            assert volume.status == "extending" and time.monotonic() < deadline, volume.status
            time.sleep(0.05)
        assert volume.size == 2 and size_inside() == 2 << 30
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, interval=0.1, wait=60)
        conn.block_storage.wait_for_status(volume, "available", interval=0.1, wait=30)
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.block_storage.wait_for_delete(volume, interval=0.1, wait=30)
