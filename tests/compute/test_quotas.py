"""Quotas: show, defaults, detail, admin update, enforcement (403 with Nova's message), and no double
allocation under concurrent boots."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.compute.conftest import Tenant, unique, wait_status


def test_show_defaults_update_and_detail(sim, nova_admin, tenant):
    pid = tenant.project_id
    shown = tenant.reader.get(f"/os-quota-sets/{pid}").json()["quota_set"]
    assert shown["id"] == pid and shown["instances"] == 10 and shown["cores"] == 20 and shown["ram"] == 51200
    assert shown["security_groups"] == -1  # the nova-network era keys are still shown before 2.36
    defaults = tenant.member.get(f"/os-quota-sets/{pid}/defaults").json()["quota_set"]
    assert defaults["key_pairs"] == 100 and defaults["metadata_items"] == 128
    assert tenant.member.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": 50}}).status_code == 403
    updated = nova_admin.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": 7, "cores": 9}})
    assert updated.status_code == 200 and updated.json()["quota_set"]["instances"] == 7
    assert "id" not in updated.json()["quota_set"]
    assert nova_admin.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": -2}}).status_code == 400
    assert nova_admin.put(f"/os-quota-sets/{pid}", json={"quota_set": {"nonsense": 1}}).status_code == 400
    detail = nova_admin.get(f"/os-quota-sets/{pid}/detail").json()["quota_set"]
    assert detail["instances"] == {"limit": 7, "in_use": 0, "reserved": 0}
    assert nova_admin.delete(f"/os-quota-sets/{pid}").status_code == 202
    assert tenant.reader.get(f"/os-quota-sets/{pid}").json()["quota_set"]["instances"] == 10
    limits = tenant.member.get("/limits").json()["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 10 and limits["totalInstancesUsed"] >= 0


def test_over_quota_is_403_with_novas_message(sim, nova_admin, image_ids):
    t = Tenant(sim, roles=("member",))
    try:
        nova_admin.put(f"/os-quota-sets/{t.project_id}", json={"quota_set": {"instances": 1, "ram": 100}})
        body = {"name": unique("q"), "imageRef": image_ids[0], "flavorRef": "7"}  # c1.micro: 128 MB
        resp = t.member.post("/servers", json={"server": body})
        assert resp.status_code == 403
        assert resp.json() == {"forbidden": {"code": 403, "message":
                                             "Quota exceeded for ram: Requested 128, but already used 0 of 100 ram"}}
        first = t.member.post("/servers", json={"server": {**body, "flavorRef": "6"}})
        assert first.status_code == 202
        resp = t.member.post("/servers", json={"server": {**body, "flavorRef": "6"}})
        assert resp.status_code == 403
        assert resp.json()["forbidden"]["message"] == \
            "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
        # a failed request changed nothing: deleting the one server gives the quota back
        sid = first.json()["server"]["id"]
        wait_status(t.member, sid, "ACTIVE")
        assert t.member.delete(f"/servers/{sid}").status_code == 204
        wait_status(t.member, sid, "DELETED")
        detail = nova_admin.get(f"/os-quota-sets/{t.project_id}/detail").json()["quota_set"]
        assert detail["instances"]["in_use"] == 0 and detail["ram"]["in_use"] == 0 and detail["cores"]["in_use"] == 0
    finally:
        t.close()


def test_concurrent_boots_never_exceed_the_quota(sim, nova_admin, image_ids):
    t = Tenant(sim, roles=("member",))
    quota = 7
    try:
        nova_admin.put(f"/os-quota-sets/{t.project_id}", json={"quota_set": {"instances": quota}})
        token = t.users["member"][3]

        def boot(i: int) -> int:
            with httpx.Client(base_url=sim.url + "/compute/v2.1", headers={"X-Auth-Token": token},
                              timeout=60) as client:
                return client.post("/servers", json={"server": {"name": f"par-{i}", "imageRef": image_ids[0],
                                                                 "flavorRef": "6"}}).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(boot, range(20)))
        assert sorted(codes) == [202] * quota + [403] * (20 - quota)
        servers = t.member.get("/servers").json()["servers"]
        assert len(servers) == quota
        detail = nova_admin.get(f"/os-quota-sets/{t.project_id}/detail").json()["quota_set"]
        assert detail["instances"]["in_use"] == quota and detail["cores"]["in_use"] == quota
        for s in servers:
            wait_status(t.member, s["id"], "ACTIVE")
            assert t.member.delete(f"/servers/{s['id']}").status_code == 204
        for s in servers:
            wait_status(t.member, s["id"], "DELETED")
        detail = nova_admin.get(f"/os-quota-sets/{t.project_id}/detail").json()["quota_set"]
        assert detail["instances"]["in_use"] == 0
    finally:
        t.close()


def test_keypair_quota(sim, nova_admin):
    t = Tenant(sim, roles=("member",))
    try:
        nova_admin.put(f"/os-quota-sets/{t.project_id}", json={"quota_set": {"key_pairs": 1}})
        assert t.member.post("/os-keypairs", json={"keypair": {"name": "one"}}).status_code == 200
        resp = t.member.post("/os-keypairs", json={"keypair": {"name": "two"}})
        assert resp.status_code == 403
        assert resp.json() == {"forbidden": {"code": 403, "message": "Quota exceeded, too many key pairs."}}
    finally:
        t.close()


def test_max_count_is_cut_to_what_the_quota_allows(sim, nova_admin, image_ids):
    t = Tenant(sim, roles=("member",))
    try:
        nova_admin.put(f"/os-quota-sets/{t.project_id}", json={"quota_set": {"instances": 3}})
        body = {"name": unique("mc"), "imageRef": image_ids[0], "flavorRef": "6"}
        resp = t.member.post("/servers", json={"server": {**body, "min_count": 4, "max_count": 5}})
        assert resp.status_code == 403
        assert resp.json()["forbidden"]["message"] == \
            "Quota exceeded for instances: Requested 4, but already used 0 of 3 instances"
        resp = t.member.post("/servers", json={"server": {**body, "min_count": 1, "max_count": 5,
                                                          "return_reservation_id": True}})
        assert resp.status_code == 202 and set(resp.json()) == {"reservation_id"}
        made = t.member.get("/servers", params={"reservation_id": resp.json()["reservation_id"]}).json()["servers"]
        assert sorted(s["name"] for s in made) == [f"{body['name']}-{i}" for i in (1, 2, 3)]
        for s in made:
            wait_status(t.member, s["id"], "ACTIVE")
            t.member.delete(f"/servers/{s['id']}")
        for s in made:
            wait_status(t.member, s["id"], "DELETED")
    finally:
        t.close()
