"""Image data under load and after crashes: parallel uploads, de-duplication, kill -9 mid-upload."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.image.conftest import OCTET, V2, create, upload


def _blobs(data_dir) -> set[str]:
    root = data_dir / "images"
    return {p.name for p in root.glob("??/*")}


def test_parallel_uploads_of_different_images(tenants):
    member = tenants().member
    contents = [os.urandom(512 * 1024 + i) for i in range(10)]
    images = [create(member) for _ in contents]

    def put(pair):
        image, content = pair
        with httpx.Client(base_url=str(member.base_url), headers=dict(member.headers), timeout=60) as client:
            return upload(client, image["id"], content).status_code

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(put, zip(images, contents))) == [204] * 10
    for image, content in zip(images, contents):
        shown = member.get(f"/images/{image['id']}").json()
        assert shown["status"] == "active" and shown["size"] == len(content)
        assert shown["checksum"] == hashlib.md5(content).hexdigest()
        assert member.get(f"/images/{image['id']}/file").content == content


def test_racing_uploads_to_one_image(tenants):
    member = tenants().member
    image = create(member)
    contents = [os.urandom(256 * 1024) for _ in range(4)]

    def put(content):
        with httpx.Client(base_url=str(member.base_url), headers=dict(member.headers), timeout=60) as client:
            return upload(client, image["id"], content).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(put, contents))
    assert codes == [204, 409, 409, 409]
    shown = member.get(f"/images/{image['id']}").json()
    stored = member.get(f"/images/{image['id']}/file").content
    assert stored in contents and shown["checksum"] == hashlib.md5(stored).hexdigest()


def test_same_bytes_are_stored_once(cloud, tenants):
    member = tenants().member
    content = os.urandom(100_000)
    digest = hashlib.sha512(content).hexdigest()
    first, second = create(member), create(member)
    assert upload(member, first["id"], content).status_code == 204
    assert upload(member, second["id"], content).status_code == 204
    blob = cloud.server.data_dir / "images" / digest[:2] / digest
    assert blob.is_file() and blob.stat().st_size == len(content)
    assert member.delete(f"/images/{first['id']}").status_code == 204
    assert blob.is_file()  # still held by the second image
    assert member.get(f"/images/{second['id']}/file").content == content
    assert member.delete(f"/images/{second['id']}").status_code == 204
    assert not blob.exists()


def test_delete_during_upload_drops_the_bytes(cloud, tenants):
    member = tenants().member
    image = create(member)
    started, release = threading.Event(), threading.Event()
    content = os.urandom(64 * 1024)

    def slow():
        yield content
        started.set()
        release.wait(10)
        yield content

    result = {}

    def put():
        with httpx.Client(base_url=str(member.base_url), headers=dict(member.headers), timeout=60) as client:
            result["resp"] = client.put(f"/images/{image['id']}/file", content=slow(), headers=OCTET)

    thread = threading.Thread(target=put)
    thread.start()
    assert started.wait(10)
    _wait_for(lambda: member.get(f"/images/{image['id']}").json()["status"] == "saving")
    assert member.delete(f"/images/{image['id']}").status_code == 204
    release.set()
    thread.join(30)
    assert result["resp"].status_code == 410, result["resp"].text
    digest = hashlib.sha512(content * 2).hexdigest()
    assert digest not in _blobs(cloud.server.data_dir)


def test_client_gone_mid_upload_puts_the_image_back_to_queued(tenants):
    member = tenants().member
    image = create(member)

    def broken():
        yield os.urandom(128 * 1024)
        raise OSError("the client's disk failed")

    try:
        member.put(f"/images/{image['id']}/file", content=broken(), headers=OCTET)
    except (httpx.HTTPError, OSError):
        pass
    # "queued" may still be the status from before the server saw the upload start: the image is
    # back only once it accepts a new upload (409 while the broken one is still being unwound)
    _wait_for(lambda: upload(member, image["id"], b"complete").status_code == 204)
    assert member.get(f"/images/{image['id']}").json()["status"] == "active"
    assert member.get(f"/images/{image['id']}/file").content == b"complete"


def test_kill_9_mid_upload_then_restart(fresh_cloud):
    kumo = fresh_cloud()
    token = kumo.token()
    client = httpx.Client(base_url=kumo.url + V2, headers={"X-Auth-Token": token}, timeout=30)
    builtin = {i["name"]: i["id"] for i in client.get("/images").json()["images"]}
    image = create(client)
    started = threading.Event()

    def endless():
        yield os.urandom(65536)
        started.set()
        while True:
            time.sleep(0.05)
            yield os.urandom(1024)

    def put():
        try:
            client.put(f"/images/{image['id']}/file", content=endless(), headers=OCTET)
        except httpx.HTTPError:
            pass

    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    assert started.wait(10)
    data_dir = kumo.server.data_dir
    _wait_for(lambda: any((data_dir / "images" / "tmp").iterdir()))
    kumo.server.stop(signal.SIGKILL)
    thread.join(10)
    client.close()
    orphan = data_dir / "images" / "ab" / ("ab" + "0" * 126)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"nobody's bytes")

    again = fresh_cloud()
    with httpx.Client(base_url=again.url + V2, headers={"X-Auth-Token": again.token()}, timeout=30) as client:
        shown = client.get(f"/images/{image['id']}").json()
        assert shown["status"] == "queued" and shown["size"] is None  # back to queued: upload again
        assert not any((data_dir / "images" / "tmp").iterdir())
        assert not orphan.exists()
        listed = {i["name"]: i["id"] for i in client.get("/images").json()["images"]}
        assert {k: listed[k] for k in ("busybox", "busybox-alt")} == \
            {k: builtin[k] for k in ("busybox", "busybox-alt")}  # registered once, not again on restart
        assert upload(client, image["id"], b"second try").status_code == 204
        assert client.get(f"/images/{image['id']}/file").content == b"second try"


def _wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
