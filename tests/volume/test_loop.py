"""The loop-device driver (root) and crash safety: nothing left behind after delete, kill -9 + restart, reset."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from kumo.volume.drivers.loop import LoopDriver, bound_devices

ROOT = os.geteuid() == 0 and shutil.which("losetup") is not None
needs_root = pytest.mark.skipif(not ROOT, reason="loop devices need root and losetup")
MiB = 1 << 20


def _bound_under(root: Path) -> list[tuple[str, str]]:
    prefix = str(root.resolve()) + "/"
    return [(dev, back) for dev, back in bound_devices() if back.startswith(prefix)]


@pytest.fixture
def driver(tmp_path):
    drv = LoopDriver(tmp_path / "volumes")
    yield drv
    drv.cleanup()
    assert _bound_under(tmp_path) == []


def _read(device: Path, offset: int, size: int) -> bytes:
    fd = os.open(device, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


@needs_root
def test_connect_is_idempotent_and_delete_detaches(driver):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    driver.create(a, 1)
    driver.create(b, 1)
    assert driver.volume_path(a).stat().st_size == 1 << 30
    assert driver.volume_path(a).stat().st_blocks == 0  # sparse
    found = {}
    threads = [threading.Thread(target=lambda v=v: found.setdefault(v, driver.connect(v))) for v in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found[a] != found[b] and found[a].exists() and found[b].exists()
    assert driver.connect(a) == found[a]  # already bound: the same device
    assert driver.devices(a) == [str(found[a])]
    driver.extend(a, 2)
    assert int(Path(f"/sys/block/{found[a].name}/size").read_text()) * 512 == 2 << 30
    driver.delete(a)
    assert not driver.volume_path(a).exists()
    assert driver.devices(a) == [] and not Path(f"/sys/block/{found[a].name}/loop").exists()
    driver.disconnect(b)
    assert driver.devices(b) == []


@needs_root
def test_data_written_through_the_device_survives_snapshot_and_clone(driver):
    vol, snap, clone, restored = (str(uuid.uuid4()) for _ in range(4))
    driver.create(vol, 1)
    device = driver.connect(vol)
    held = os.open(device, os.O_RDWR)  # held open, as a guest's mount would: nothing flushes on close
    try:
        os.pwrite(held, b"kumo-head" * 100, 0)  # left in the device's page cache: the driver must flush it
        os.pwrite(held, b"kumo-tail", 700 * MiB)
        driver.snapshot(vol, snap)
        driver.clone(vol, clone, 2)
        os.pwrite(held, b"changed!!", 0)  # after the snapshot: must not show in it
    finally:
        os.close(held)
    driver.create_from_snapshot(snap, restored, 1)
    for ident in (clone, restored):
        dev = driver.connect(ident)
        assert _read(dev, 0, 9) == b"kumo-head" and _read(dev, 700 * MiB, 9) == b"kumo-tail"
    assert int(Path(f"/sys/block/{driver.connect(clone).name}/size").read_text()) * 512 == 2 << 30
    assert _read(device, 0, 9) == b"changed!!"
    for ident in (vol, clone, restored):
        driver.delete(ident)
    driver.delete_snapshot(snap)
    assert _bound_under(driver.root) == []
    assert list(driver.root.glob("volume-*")) == [] and list((driver.root / "snapshots").iterdir()) == []


@needs_root
def test_reconcile_detaches_and_removes_what_has_no_owner(driver):
    kept, used, stray = (str(uuid.uuid4()) for _ in range(3))
    for ident in (kept, used, stray):
        driver.create(ident, 1)
        driver.connect(ident)
    (driver.root / f"volume-{kept}.part").write_bytes(b"half a copy")
    driver.reconcile([kept, used], [], connected=[used])
    assert driver.devices(kept) == [] and driver.devices(stray) == []
    assert len(driver.devices(used)) == 1  # an attached volume keeps its device
    assert not driver.volume_path(stray).exists() and driver.volume_path(kept).exists()
    assert not (driver.root / f"volume-{kept}.part").exists()


def _admin(cloud) -> tuple[httpx.Client, str]:
    token = cloud.token()
    http = cloud.http(token)
    project = http.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]["project"]["id"]
    return http, f"/volume/v3/{project}"


def _wait(http, url: str, status: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        resp = http.get(url)
        if status == "gone" and resp.status_code == 404:
            return {}
        body = resp.json()["volume"]
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@needs_root
def test_kill_restart_reconciles_and_reset_leaves_nothing(fresh_cloud, tmp_path):
    cloud = fresh_cloud()
    http, base = _admin(cloud)
    resp = http.post(f"{base}/volumes", json={"volume": {"size": 1, "name": "survivor"}})
    vol = resp.json()["volume"]["id"]
    _wait(http, f"{base}/volumes/{vol}", "available")
    resp = http.post(f"{base}/volumes", json={"volume": {"size": 1, "name": "interrupted"}})
    interrupted = resp.json()["volume"]["id"]
    _wait(http, f"{base}/volumes/{interrupted}", "available")
    root = cloud.server.data_dir / "volumes"
    stray = root / f"volume-{uuid.uuid4()}"
    with open(stray, "wb") as fh:
        fh.truncate(1 << 20)
    for path in (root / f"volume-{vol}", stray):  # devices a crash left bound
        subprocess.run(["losetup", "--find", "--show", str(path)], check=True, capture_output=True)
    assert len(_bound_under(root)) == 2
    cloud.server.stop(signal.SIGKILL)
    # as if the crash came while the worker was creating it
    db = sqlite3.connect(cloud.server.data_dir / "kumo.db")
    db.execute("UPDATE volumes SET status = 'creating' WHERE id = ?", (interrupted,))
    db.commit()
    db.close()
    (root / f"volume-{interrupted}").unlink()

    cloud = fresh_cloud()
    http, base = _admin(cloud)
    assert _bound_under(root) == []
    assert not stray.exists() and (root / f"volume-{vol}").exists()
    _wait(http, f"{base}/volumes/{interrupted}", "available")
    assert (root / f"volume-{interrupted}").stat().st_size == 1 << 30

    subprocess.run(["losetup", "--find", "--show", str(root / f"volume-{vol}")], check=True, capture_output=True)
    cloud.server.stop()
    proc = subprocess.run([sys.executable, "-m", "kumo", "reset", "--yes", "--data-dir", str(cloud.server.data_dir)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not cloud.server.data_dir.exists()
    assert [b for _, b in bound_devices() if b.startswith(str(tmp_path))] == []
