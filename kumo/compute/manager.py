"""The server state machine, off the request path: the ``compute.server`` worker and start-up reconcile.

A message names a server; the worker reads its ``task_state`` (what the API asked for), drives the
driver outside any transaction, then records the outcome — only if the server is still in the task
it acted on (a delete may have overtaken it: the queue then runs the worker once more). Every step
is idempotent, so a message delivered twice, or replayed after a crash, does no harm.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from kumo.compute import (
    attachments,
    instance_actions,
    limits,
    network,
    plugging,
    server_groups,
)
from kumo.compute.driver import BlockDevice, DriverError, InstanceSpec, PowerState
from kumo.compute.models import BlockDeviceMapping, Server
from kumo.compute.servers import HOST, TOPIC, TRUSTED_CERTS, TRUSTED_CERTS_UNSUPPORTED
from kumo.db import utcnow
from kumo.errors import BadRequest, KumoError

log = logging.getLogger("kumo.compute")

BUILD_TASKS = ("scheduling", "block_device_mapping", "networking", "spawning")
EVENTS = {"scheduling": "compute__do_build_and_run_instance", "powering-off": "compute_stop_instance",
          "powering-on": "compute_start_instance", "rebooting": "compute_reboot_instance",
          "rebooting_hard": "compute_reboot_instance", "pausing": "compute_pause_instance",
          "unpausing": "compute_unpause_instance", "suspending": "compute_suspend_instance",
          "resuming": "compute_resume_instance", "rebuilding": "compute_rebuild_instance",
          "resize_prep": "compute_resize_instance", "resize_confirming": "compute_confirm_resize",
          "resize_reverting": "compute_revert_resize", "image_snapshot": "compute_snapshot_instance",
          "deleting": "compute_terminate_instance"}


def make_driver(cloud):
    if cloud.backend.name == "local":
        from kumo.compute.drivers.local import LocalDriver

        return LocalDriver(cloud.settings)
    from kumo.compute.drivers.simulated import SimulatedDriver

    return SimulatedDriver(cloud.settings)


def driver_of(cloud):
    return cloud.compute_driver


# -- building what the driver needs ---------------------------------------------------------------

_boot_images: dict[str, object] = {}  # image id → BootImage: active images' bytes never change


def _image_file(cloud, db, server: Server):
    """The image to boot and its file. Visibility was checked when the server was created; an image
    deleted since is seen missing (its file is gone), as before."""
    if not server.image_id:
        return None, None
    from kumo.image import internal as images

    image = _boot_images.get(server.image_id)
    if image is None or not Path(image.path).exists():
        image = images.boot_image(cloud, db, server.image_id, None)
        _boot_images[server.image_id] = image
    return image.path, image


def _multiattach(db, rows) -> list[str]:
    from kumo.volume import internal as volumes

    return volumes.multiattach(db, [r.volume_id for r in rows]) if rows else []


def _block_device(cloud, db, row: BlockDeviceMapping) -> BlockDevice:
    from kumo.volume import internal as volumes

    return volumes.block_device(cloud, db, row.volume_id, row.device)


def spec_for(cloud, db, server: Server, flavor: dict | None = None, need_image: bool = True,
             rows: list[BlockDeviceMapping] | None = None) -> InstanceSpec:
    import base64

    flavor = flavor or server.flavor
    image_file, image = None, None
    if need_image:
        image_file, image = _image_file(cloud, db, server)
    else:
        try:
            image_file, image = _image_file(cloud, db, server)
        except KumoError:
            pass
    devices, root = [], None
    if rows is None:
        rows = _mappings(db, server.id)
    for row in rows:
        if row.state in ("detaching", "creating"):
            continue
        if row.boot_index == 0:
            root = _block_device(cloud, db, row)
        elif row.state == "attached":
            devices.append(_block_device(cloud, db, row))
    user_data = base64.b64decode(server.user_data) if server.user_data else None
    return InstanceSpec(uuid=server.id, name=server.name, hostname=server.hostname, vcpus=flavor["vcpus"],
                        ram_mb=flavor["ram"], disk_gb=flavor["disk"], image_file=image_file,
                        image_id=server.image_id or None,
                        disk_format=image.disk_format if image else "raw",
                        container_format=image.container_format if image else "bare", user_data=user_data,
                        metadata=dict(server.metadata_ or {}),
                        public_keys={server.key_name: server.key_data} if server.key_name and server.key_data else {},
                        admin_password=server.admin_pass, project_id=server.project_id,
                        block_devices=tuple(devices), root_device=root, vifs=network.vifs(db, server.id))


def _mappings(db, server_id: str) -> list[BlockDeviceMapping]:
    return list(db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id)))


@dataclass
class Plan:
    """What one pass of the worker read about a server, in one read transaction."""
    task: str
    vm_state: str
    prior: str = "active"
    spec: InstanceSpec | None = None
    snapshot_image: str | None = None
    waits_for_volume: bool = False  # a root volume still being made from an image
    boot_volume: bool = False  # a root volume to mark attached when the build is done
    pending: bool = False  # volumes to attach or detach after the task
    unplaced: bool = False  # its server group's policy left it no host (server_groups.py)
    multiattach: list = field(default_factory=list)  # its multiattach volumes: this driver cannot share them
    trusted_certs: bool = False  # 2.63 certificates to validate the image with: this driver cannot


def _plan(cloud, db, server: Server, task: str) -> Plan:
    rows = _mappings(db, server.id)
    plan = Plan(task=task, vm_state=server.vm_state,
                trusted_certs=bool((server.system_metadata or {}).get(TRUSTED_CERTS)),
                prior=(server.system_metadata or {}).get("prior_vm_state", "active"),
                snapshot_image=(server.system_metadata or {}).get("snapshot_image_id"),
                waits_for_volume=any(r.state == "creating" for r in rows),
                boot_volume=any(r.boot_index == 0 for r in rows),
                pending=any(r.state in ("attaching", "detaching") for r in rows))
    if task in BUILD_TASKS:
        plan.unplaced = server_groups.unplaced(db, server.id)
        plan.multiattach = _multiattach(db, rows)
        plan.spec = spec_for(cloud, db, server, rows=rows)
    elif task in ("powering-on", "rebooting", "rebooting_hard", "rebuilding", "resize_prep"):
        plan.spec = spec_for(cloud, db, server, need_image=task == "rebuilding", rows=rows)
    elif task == "resize_reverting":
        plan.spec = spec_for(cloud, db, server, flavor=server.old_flavor or server.flavor, need_image=False,
                             rows=rows)
    return plan


# -- the worker -----------------------------------------------------------------------------------
#
# One pass over a server costs one read transaction (the server, its mappings, its spec) and, for a
# task, one write transaction at the end (outcome, instance-action event with the time it started):
# SQLite has a single writer, so every write transaction a boot saves shortens every other's queue.

def handle(cloud, server_id: str) -> None:
    plan, error = None, None
    spans = _Spans(server_id)
    with cloud.db.session(write=False) as db:
        server = db.get(Server, server_id)
        if server is None:
            return
        task = server.task_state
        if task not in (None, "deleting"):
            try:
                plan = _plan(cloud, db, server, task)
            except Exception as exc:  # noqa: BLE001 — the task fails with it, below
                error = exc
    if task == "deleting":
        return _delete(cloud, server_id)
    if task is None:
        return _attachments(cloud, server_id)
    event = EVENTS.get(task) or task
    started = utcnow()
    spans.mark("plan")
    try:
        if error is not None:
            raise error
        outcome = _run_task(cloud, server_id, plan)
    except (DriverError, KumoError, OSError) as exc:
        return _failed(cloud, server_id, task, event, exc, started)
    except Exception as exc:
        log.exception("server %s: %s failed", server_id, task)
        return _failed(cloud, server_id, task, event, exc, started)
    spans.mark("driver")
    if outcome.get("_waiting"):
        return spans.done(task + ", waiting for its ports")
    _finish(cloud, server_id, plan, event, outcome, started)
    spans.mark("write")
    spans.done(task)
    if plan.pending:
        _attachments(cloud, server_id)


class _Spans:
    """Where a worker pass's time goes, logged at debug level: "plan 6.1 driver 48.0 write 9.2 ms"."""

    def __init__(self, server_id: str):
        self.on = log.isEnabledFor(logging.DEBUG)
        self.server_id, self.parts, self.last = server_id, [], time.monotonic()

    def mark(self, name: str) -> None:
        if self.on:
            now = time.monotonic()
            self.parts.append(f"{name} {1000 * (now - self.last):.1f}")
            self.last = now

    def done(self, task: str) -> None:
        if self.on:
            log.debug("server %s: %s pass: %s ms", self.server_id, task, " ".join(self.parts))


def _run_task(cloud, server_id: str, plan: Plan) -> dict:
    """Drive the driver for the plan's task; return the columns to set when it is done."""
    driver = driver_of(cloud)
    task, spec, prior = plan.task, plan.spec, plan.prior
    running = {"vm_state": "active", "power_state": int(PowerState.RUNNING)}
    if task in BUILD_TASKS:
        if plan.unplaced:
            raise DriverError(server_groups.NO_VALID_HOST)
        if plan.multiattach:  # Nova's MultiattachNotSupportedByVirtDriver: the build is aborted
            raise DriverError(attachments.MULTIATTACH_UNSUPPORTED.format(plan.multiattach[0]))
        if plan.trusted_certs:
            raise DriverError(TRUSTED_CERTS_UNSUPPORTED)
        if plan.waits_for_volume and _await_boot_volume(cloud, server_id):
            with cloud.db.session(write=False) as db:
                spec = spec_for(cloud, db, db.get(Server, server_id))
            plan.boot_volume = True
        driver.spawn(spec)  # idempotent: a build sent back by the plug waiter only checks it runs
        if spec.vifs and cloud.backend.name == "local" and not cloud.compute_plugs.ready(server_id):
            return {"_waiting": True}  # ACTIVE once its ports are plugged (plugging.py)
        return {**running, "host": HOST, "launched_at": utcnow(), "progress": 100}
    if task == "powering-off":
        driver.power_off(server_id)
        return {"vm_state": "stopped", "power_state": int(PowerState.SHUTDOWN)}
    if task == "powering-on":
        driver.power_on(spec)
        return running
    if task in ("rebooting", "rebooting_hard"):
        driver.reboot(spec, hard=task == "rebooting_hard")
        return running
    if task == "pausing":
        driver.pause(server_id)
        return {"vm_state": "paused", "power_state": int(PowerState.PAUSED)}
    if task in ("unpausing", "resuming"):
        (driver.unpause if task == "unpausing" else driver.resume)(server_id)
        return running
    if task == "suspending":
        driver.suspend(server_id)
        return {"vm_state": "suspended", "power_state": int(PowerState.SUSPENDED)}
    if task == "rebuilding":
        if plan.trusted_certs:
            raise DriverError(TRUSTED_CERTS_UNSUPPORTED)
        driver.rebuild(spec)
        if prior == "stopped":
            driver.power_off(server_id)
            return {"vm_state": "stopped", "power_state": int(PowerState.SHUTDOWN)}
        return running
    if task == "resize_prep":
        driver.resize(spec)
        return {"vm_state": "resized", "power_state": int(driver.power_state(server_id))}
    if task == "resize_confirming":
        return {"vm_state": "stopped" if prior == "stopped" else "active", "old_flavor": None}
    if task == "resize_reverting":
        driver.resize(spec)
        return {"vm_state": "stopped" if prior == "stopped" else "active", "_revert": True}
    if task == "image_snapshot":
        return _snapshot(cloud, driver, server_id, plan.snapshot_image)
    raise DriverError(f"unknown task {task}")


def _await_boot_volume(cloud, server_id: str, timeout: float = 120) -> bool:
    """A root volume made from an image is reserved once the volume service has filled it; returns
    whether there was one to wait for."""
    from kumo.volume import internal as volumes

    deadline = time.monotonic() + timeout
    waited = False
    while True:
        with cloud.db.session() as db:
            row = db.scalar(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id,
                                                                BlockDeviceMapping.state == "creating"))
            if row is None:
                return waited
            waited = True
            try:
                with db.begin_nested():
                    volumes.reserve_for_attach(db, row.volume_id, db.get(Server, server_id).project_id)
                row.state = "attaching"
                continue
            except BadRequest as exc:  # still creating (or it failed)
                if time.monotonic() > deadline or "error" in exc.message:
                    raise DriverError(f"Volume {row.volume_id} did not become available: {exc.message}") from None
        time.sleep(0.2)


def _snapshot(cloud, driver, server_id: str, image_id: str | None) -> dict:
    from kumo.image import internal as images

    if not image_id:
        return {}
    with tempfile.TemporaryDirectory(dir=cloud.settings.data_dir) as tmp:
        target = Path(tmp) / "snapshot.tar"
        try:
            driver.snapshot(server_id, target)
        except Exception:
            target.unlink(missing_ok=True)
            images.finish_upload(cloud, image_id, target)  # no bytes: the image is killed
            raise
        images.finish_upload(cloud, image_id, target)
    return {"_snapshot_done": True}


def _finish(cloud, server_id: str, plan: Plan, event: str, outcome: dict, started) -> None:
    task = plan.task
    with cloud.db.session() as db:
        server = db.get(Server, server_id)
        if server is None or server.task_state != task:
            return  # overtaken (deleted, or a delete is pending: the queue runs us again)
        if outcome.pop("_revert", False):
            new, old = server.flavor, server.old_flavor or server.flavor
            limits.release(db, server.project_id, 0, max(new["vcpus"] - old["vcpus"], 0),
                           max(new["ram"] - old["ram"], 0))
            server.flavor, server.flavor_id, server.old_flavor = old, old["id"], None
        if task == "resize_confirming" and server.old_flavor:
            new, old = server.flavor, server.old_flavor
            limits.release(db, server.project_id, 0, max(old["vcpus"] - new["vcpus"], 0),
                           max(old["ram"] - new["ram"], 0))
        if outcome.pop("_snapshot_done", False) or task == "image_snapshot":
            server.system_metadata = {k: v for k, v in (server.system_metadata or {}).items()
                                      if k != "snapshot_image_id"}
        if task in BUILD_TASKS and plan.boot_volume:
            _boot_volume_attached(cloud, db, server)
        for key, value in outcome.items():
            setattr(server, key, value)
        server.task_state = None
        server.updated_at = utcnow()
        if server.vm_state != "error":
            server.fault = None
        instance_actions.finish_event(db, server_id, event, started=started)


def _boot_volume_attached(cloud, db, server: Server) -> None:
    from kumo.volume import internal as volumes

    for row in db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server.id,
                                                            BlockDeviceMapping.boot_index == 0,
                                                            BlockDeviceMapping.state == "attaching")):
        volumes.attach_complete(db, row.volume_id, server.id, row.device)
        row.state = "attached"


def _failed(cloud, server_id: str, task: str, event: str, exc: BaseException, started=None) -> None:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    log.warning("server %s: %s failed: %s", server_id, task, message)
    if task in BUILD_TASKS:
        cloud.compute_plugs.forget(server_id)
        try:
            driver_of(cloud).destroy(server_id)  # leave nothing half-built behind
        except Exception:
            log.exception("server %s: cleanup after a failed build", server_id)
    with cloud.db.session() as db:
        server = db.get(Server, server_id)
        if server is None or server.task_state != task:
            return
        if task == "image_snapshot":  # Nova: the snapshot fails, the server carries on
            server.system_metadata = {k: v for k, v in (server.system_metadata or {}).items()
                                      if k != "snapshot_image_id"}
        else:
            server.vm_state = "error"
            server.power_state = int(driver_of(cloud).power_state(server_id))
        server.task_state = None
        server.fault = {"code": 500, "message": message[:255], "created": utcnow().isoformat(),
                        "details": "".join(traceback.format_exception(exc))[-4000:]}
        server.updated_at = utcnow()
        instance_actions.finish_event(db, server_id, event, error=message, started=started)


def _delete(cloud, server_id: str) -> None:
    driver = driver_of(cloud)
    cloud.compute_plugs.forget(server_id)
    with cloud.db.session(write=False) as db:
        rows = list(db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id)))
        connected = [row.volume_id for row in rows if row.state != "creating"]  # not the volume service's
        devices = []
        for row in rows:
            if row.state in ("attached", "detaching"):
                try:
                    devices.append(_block_device(cloud, db, row))
                except KumoError:
                    pass
    for device in devices:
        try:
            driver.detach_volume(server_id, device)
        except Exception:  # noqa: BLE001 — the instance is going away anyway
            log.warning("server %s: detaching %s before delete failed", server_id, device.volume_id)
    driver.destroy(server_id)
    for volume_id in connected:
        _release_device(cloud, server_id, volume_id)
    with cloud.db.session() as db:
        server = db.get(Server, server_id)
        if server is None:
            return
        _release_volumes(cloud, db, server_id)
        network.release(db, server)
        old = server.old_flavor or server.flavor
        new = server.flavor
        limits.release(db, server.project_id, 1, max(old.get("vcpus", 0), new.get("vcpus", 0)),
                       max(old.get("ram", 0), new.get("ram", 0)))
        instance_actions.forget(db, server_id)
        db.delete(server)


def _release_volumes(cloud, db, server_id: str) -> None:
    from kumo.volume import internal as volumes

    rows = db.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id))
    for row in list(rows):
        try:
            with db.begin_nested():
                if row.state == "creating":  # never reserved: the volume stays the project's
                    pass
                elif row.state == "attaching":
                    volumes.unreserve(db, row.volume_id)
                else:
                    if row.state == "attached":
                        volumes.begin_detach(db, row.volume_id, server_id)
                    volumes.detach_complete(db, row.volume_id, server_id)
                    if row.delete_on_termination:
                        volumes.delete_volume(cloud, db, row.volume_id)
        except KumoError as exc:
            log.warning("server %s: releasing volume %s: %s", server_id, row.volume_id, exc.message)
        db.delete(row)


def _attachments(cloud, server_id: str) -> None:
    """Attach volumes marked attaching and detach those marked detaching (os-volume_attachments)."""
    from kumo.volume import internal as volumes

    driver = driver_of(cloud)
    with cloud.db.session(write=False) as db:
        server = db.get(Server, server_id)
        if server is None or server.task_state is not None or server.vm_state in ("building", "error"):
            return
        work = []
        pending = sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id,
                                                      BlockDeviceMapping.state.in_(("attaching", "detaching")))
        for row in db.scalars(pending):
            try:
                work.append((row.id, row.state, _block_device(cloud, db, row)))
            except KumoError as exc:
                work.append((row.id, row.state, exc))
    for row_id, state, device in work:
        error = device if isinstance(device, Exception) else None
        if error is None:
            try:
                (driver.attach_volume if state == "attaching" else driver.detach_volume)(server_id, device)
            except Exception as exc:  # noqa: BLE001
                error = exc
        if (state == "attaching") == (error is not None) and not isinstance(device, Exception):
            _release_device(cloud, server_id, device.volume_id)  # detached, or the attach failed
        event = "compute_attach_volume" if state == "attaching" else "compute_detach_volume"
        with cloud.db.session() as db:
            row = db.get(BlockDeviceMapping, row_id)
            if row is None or row.state != state:
                continue
            message = getattr(error, "message", None) or (str(error) if error else None)
            if state == "attaching":
                if error is None:
                    volumes.attach_complete(db, row.volume_id, server_id, row.device)
                    row.state = "attached"
                else:
                    volumes.unreserve(db, row.volume_id)
                    db.delete(row)
            else:
                if error is None:
                    volumes.detach_complete(db, row.volume_id, server_id)
                    db.delete(row)
                else:
                    row.state = "attached"
            instance_actions.finish_event(db, server_id, event, error=message)


def _release_device(cloud, server_id: str, volume_id: str) -> None:
    """The volume's host device (a loop device) is bound only while an instance uses it; freed before
    the store shows the volume available, so a new attach never finds it half released."""
    from kumo.volume import internal as volumes

    try:
        volumes.release_device(cloud, volume_id)
    except Exception as exc:  # noqa: BLE001 — freed later by volume delete or the volume reconcile
        log.warning("server %s: releasing the device of volume %s: %s", server_id, volume_id, exc)


# -- start-up -------------------------------------------------------------------------------------

def reconcile(cloud) -> None:
    """After a crash: finish deletes, resume builds and tasks, destroy instances no server owns."""
    driver = driver_of(cloud)
    with cloud.db.session(write=False) as db:
        known = set(db.scalars(sa.select(Server.id)))
        pending = list(db.execute(sa.select(Server.id, Server.vm_state, Server.task_state)
                                  .where(Server.task_state.is_not(None))))
        attaching = set(db.scalars(sa.select(BlockDeviceMapping.server_id)
                                   .where(BlockDeviceMapping.state.in_(("attaching", "detaching")))))
    for uuid in driver.list_instances():
        if uuid not in known:
            log.info("destroying instance %s: no server owns it", uuid)
            try:
                driver.destroy(uuid)
            except Exception:
                log.exception("could not destroy orphan instance %s", uuid)
    for server_id, vm_state, task in pending:
        if vm_state == "building" and task in BUILD_TASKS:
            try:
                driver.destroy(server_id)  # a half-built instance: start the build over
            except Exception:
                log.exception("could not clean half-built instance %s", server_id)
        cloud.workers.submit(TOPIC, server_id)
    for server_id in attaching - {p[0] for p in pending}:
        cloud.workers.submit(TOPIC, server_id)


def on_start(cloud) -> None:
    from kumo.compute import flavors

    cloud.compute_driver = make_driver(cloud)
    cloud.compute_plugs = plugging.Waiter(cloud, lambda server_id: cloud.workers.submit(TOPIC, server_id))
    with cloud.db.session() as db:
        flavors.seed(db)
    cloud.workers.register(TOPIC, lambda key, payload: handle(cloud, key))
    reconcile(cloud)
    size = int(cloud.settings.compute_warm_pool)
    if size > 0 and hasattr(cloud.compute_driver, "start_pool"):  # filled once every service serves
        threading.Thread(target=lambda: cloud.started.wait() and cloud.compute_driver.start_pool(size),
                         name="kumo-compute-pool-start", daemon=True).start()
