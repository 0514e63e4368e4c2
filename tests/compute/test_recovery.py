"""Crash safety: after ``kill -9`` and a restart, builds resume, deletes finish, instances no server owns
are destroyed, and a build that cannot finish ends in ERROR with a fault."""

from __future__ import annotations

import json
import signal
import sqlite3
import uuid

from tests.compute.conftest import images, nova, unique, wait_status


def test_kill_9_then_restart_reconciles(fresh_cloud):
    cloud = fresh_cloud(env={"KUMO_BACKEND": "simulated"})
    data_dir = cloud.server.data_dir
    image_id = images(cloud)[0]
    client = nova(cloud, cloud.token())
    ids = {}
    for role in ("deleting", "building", "failing", "kept"):
        resp = client.post("/servers", json={"server": {"name": unique(role), "imageRef": image_id,
                                                        "flavorRef": "6"}})
        assert resp.status_code == 202, resp.text
        ids[role] = resp.json()["server"]["id"]
    for sid in ids.values():
        wait_status(client, sid, "ACTIVE")
    client.close()
    instances = data_dir / "instances"
    assert {p.name for p in instances.iterdir()} == set(ids.values())
    assert cloud.server.stop(signal.SIGKILL) == -signal.SIGKILL

    # what a crash at the wrong moment leaves behind: a delete and two builds half done, and an
    # instance whose server row never committed
    orphan = str(uuid.uuid4())
    (instances / orphan).mkdir()
    (instances / orphan / "state.json").write_text(json.dumps({"uuid": orphan, "power_state": 1}))
    db = sqlite3.connect(data_dir / "kumo.db")
    with db:
        db.execute("UPDATE compute_servers SET task_state='deleting' WHERE id=?", (ids["deleting"],))
        for role in ("building", "failing"):
            db.execute("UPDATE compute_servers SET vm_state='building', task_state='scheduling', power_state=0, "
                       "host=NULL WHERE id=?", (ids[role],))
        db.execute("UPDATE compute_servers SET image_id=? WHERE id=?", (str(uuid.uuid4()), ids["failing"]))
    db.close()

    cloud = fresh_cloud(env={"KUMO_BACKEND": "simulated"})
    client = nova(cloud, cloud.token())
    try:
        wait_status(client, ids["deleting"], "DELETED")
        wait_status(client, ids["building"], "ACTIVE")
        failed = wait_status(client, ids["failing"], "ERROR")
        assert failed["fault"]["code"] == 500 and "image" in failed["fault"]["message"].lower()
        assert failed["fault"]["created"] and failed["OS-EXT-STS:vm_state"] == "error"
        assert wait_status(client, ids["kept"], "ACTIVE")["OS-EXT-STS:power_state"] == 1
        assert {p.name for p in instances.iterdir()} == {ids["building"], ids["kept"]}
        # an ERROR server can still be deleted, and its quota comes back
        assert client.delete(f"/servers/{ids['failing']}").status_code == 204
        wait_status(client, ids["failing"], "DELETED")
        project = client.get(f"/servers/{ids['kept']}").json()["server"]["tenant_id"]
        usage = client.get(f"/os-quota-sets/{project}/detail").json()["quota_set"]
        assert usage["instances"]["in_use"] == 2
    finally:
        client.close()
