"""Servers through the real clients: the openstack CLI and openstacksdk boot, list, show, act on and
delete servers on the simulated backend."""

from __future__ import annotations

import time

from tests.compute.conftest import unique, wait_status


def test_cli_server_lifecycle(sim, nova_admin, image_ids):
    name = unique("cli")
    created = sim.openstack("server", "create", "--image", image_ids[0], "--flavor", "c1.nano",
                            "--property", "role=web", "-f", "json", name)
    assert created["name"] == name and created["adminPass"]
    server_id = created["id"]
    shown = wait_status(nova_admin, server_id, "ACTIVE")
    assert shown["metadata"] == {"role": "web"} and shown["flavor"]["id"] == "6"
    listed = sim.openstack("server", "list", "--name", name, "--long", "-f", "json")
    assert [(s["ID"], s["Status"], s["Power State"]) for s in listed] == [(server_id, "ACTIVE", 1)]
    sim.openstack("server", "delete", server_id)
    wait_status(nova_admin, server_id, "DELETED")


def settle(compute, server, status: str, timeout: float = 15):
    """The server once it shows ``status`` with no task in flight (the sdk's own wait trusts the
    status the object already has, which is the one from before the action)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = compute.get_server(server)
        if server.status == status and server.task_state is None:
            return server
        assert server.status != "ERROR", server.fault
        time.sleep(0.05)
    raise AssertionError(f"{server.id} never reached {status}: {server.status}/{server.task_state}")


def test_sdk_actions_drive_the_state_machine(sim, image_ids):
    conn = sim.sdk()
    compute = conn.compute
    server = compute.create_server(name=unique("sdk"), image_id=image_ids[0], flavor_id="6", networks="none")
    server = settle(compute, server, "ACTIVE")
    assert server.power_state == 1 and server.vm_state == "active"

    compute.stop_server(server)
    server = settle(compute, server, "SHUTOFF")
    assert server.power_state == 4 and server.vm_state == "stopped"
    compute.start_server(server)
    server = settle(compute, server, "ACTIVE")

    compute.reboot_server(server, "SOFT")
    server = settle(compute, server, "ACTIVE")
    compute.reboot_server(server, "HARD")
    server = settle(compute, server, "ACTIVE")

    compute.resize_server(server, "7")
    server = settle(compute, server, "VERIFY_RESIZE")
    assert server.flavor.original_name == "c1.micro" or server.flavor.id == "7"
    compute.revert_server_resize(server)
    server = settle(compute, server, "ACTIVE")
    assert server.flavor.id == "6" or server.flavor.original_name == "c1.nano"
    compute.resize_server(server, "8")
    server = settle(compute, server, "VERIFY_RESIZE")
    compute.confirm_server_resize(server)
    server = settle(compute, server, "ACTIVE")
    assert server.flavor.id == "8" or server.flavor.original_name == "c1.small"

    rebuilt = compute.rebuild_server(server, image=image_ids[1], name="rebuilt", admin_password="s3cret")
    assert rebuilt.admin_password == "s3cret"
    server = settle(compute, server, "ACTIVE")
    assert server.image.id == image_ids[1] and server.name == "rebuilt"

    compute.pause_server(server)
    server = settle(compute, server, "PAUSED")
    assert server.power_state == 3
    compute.unpause_server(server)
    server = settle(compute, server, "ACTIVE")
    compute.suspend_server(server)
    server = settle(compute, server, "SUSPENDED")
    assert server.power_state == 7
    compute.resume_server(server)
    server = settle(compute, server, "ACTIVE")

    output = compute.get_server_console_output(server, length=3)["output"]
    assert 0 < len(output.splitlines()) <= 3 and "login:" in output

    actions = [a.action for a in compute.server_actions(server)]
    for expected in ("create", "stop", "start", "reboot", "resize", "revertResize", "confirmResize", "rebuild",
                     "pause", "unpause", "suspend", "resume"):
        assert expected in actions

    compute.delete_server(server)
    compute.wait_for_delete(server, interval=0.1, wait=20)
    assert compute.find_server(server.id) is None
    conn.close()


def test_sdk_multiple_create_and_reservation(sim, image_ids):
    conn = sim.sdk()
    name = unique("multi")
    server = conn.compute.create_server(name=name, image_id=image_ids[0], flavor_id="6", networks="none",
                                        min_count=3, max_count=3)
    found = [s for s in conn.compute.servers(name=name)]
    assert sorted(s.name for s in found) == [f"{name}-1", f"{name}-2", f"{name}-3"]
    assert len({s.reservation_id for s in found} - {None}) <= 1
    for s in found:
        settle(conn.compute, s, "ACTIVE")
        conn.compute.delete_server(s)
    for s in found:
        conn.compute.wait_for_delete(s, interval=0.1, wait=20)
    assert server.id in {s.id for s in found}
    conn.close()


def test_cli_refuses_an_unknown_flavor(sim, image_ids):
    proc = sim.openstack("server", "create", "--flavor", "no-such-flavor", "--image", image_ids[0],
                         unique("bad"), check=False)
    assert proc.returncode != 0 and "No Flavor found for no-such-flavor" in proc.stderr
