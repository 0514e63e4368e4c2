"""``POST /v3/{project_id}/volumes/{volume_id}/action``: one action per body, as Cinder's."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest
from kumo.volume import actions, volumes
from kumo.volume.http import render
from kumo.volume.http.common import at_least, isotime, project, require, router
from kumo.volume.models import VolumeType
from kumo.volume.policies import policy

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "ami", "ari", "aki")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "docker", "ami", "ari", "aki", "compressed")


def _bool(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off",
                                                             "t", "f", "y", "n"):
        return value.strip().lower() in ("true", "1", "yes", "on", "t", "y")
    raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {value!r} is not a valid boolean.")


def _set_bootable(call, volume, args):
    if "bootable" not in args:
        raise BadRequest("Invalid input for field/attribute bootable. 'bootable' is a required property.")
    actions.set_bootable(volume, _bool(args["bootable"], "bootable"))
    return Reply(None, status=200)


def _readonly(call, volume, args):
    if "readonly" not in args:
        raise BadRequest("Invalid input for field/attribute readonly. 'readonly' is a required property.")
    actions.set_readonly(volume, _bool(args["readonly"], "readonly"))
    return Reply(None, status=202)


def _extend(call, volume, args):
    new_size = volumes.parse_size(args.get("new_size"), "new_size")
    actions.extend(call.cloud, call.db, volume, new_size, in_use=at_least(call, "3.42"))
    return Reply(None, status=202)


def _revert(call, volume, args):
    """3.40: back to the volume's latest snapshot."""
    require(call, "3.40")
    actions.revert_to_snapshot(call.cloud, call.db, volume, args.get("snapshot_id"))
    return Reply(None, status=202)


def _reimage(call, volume, args):
    """3.68: the volume rewritten from an image (``reimage_reserved``: a reserved volume too)."""
    require(call, "3.68")
    if not args.get("image_id"):
        raise BadRequest("Invalid input for field/attribute image_id. 'image_id' is a required property.")
    image = volumes.boot_image(call.cloud, call.db, args["image_id"], volume.project_id)
    actions.reimage(call.cloud, call.db, volume, image,
                    reserved_ok=_bool(args.get("reimage_reserved", False), "reimage_reserved"))
    return Reply(None, status=202)


def _extend_completion(call, volume, args):
    """3.71: Nova reports that it finished an extend Cinder waits on. Kumo's backend resizes the device
    itself, so no extend ever waits: refused as Cinder refuses it for a volume not awaiting one."""
    require(call, "3.71")
    raise BadRequest(f"Invalid volume: Volume {volume.id} is not waiting for an extend completion "
                     f"(status: {volume.status}).")


def _reset_status(call, volume, args):
    policy.enforce(call.ctx, "volume:admin_action", {"project_id": volume.project_id})
    if not any(k in args for k in ("status", "attach_status", "migration_status")):
        raise BadRequest("Invalid input received: Must specify 'status', 'attach_status' or 'migration_status' "
                         "for update.")
    actions.reset_status(volume, args.get("status"), args.get("attach_status"))
    return Reply(None, status=202)


def _force_delete(call, volume, args):
    policy.enforce(call.ctx, "volume:admin_action", {"project_id": volume.project_id})
    volumes.delete(call.cloud, call.db, volume, force=True)
    return Reply(None, status=202)


def _reserve(call, volume, args):
    actions.reserve(volume)
    return Reply(None, status=202)


def _unreserve(call, volume, args):
    actions.unreserve(volume)
    return Reply(None, status=202)


def _begin_detaching(call, volume, args):
    actions.begin_detaching(volume)
    return Reply(None, status=202)


def _roll_detaching(call, volume, args):
    actions.roll_detaching(volume)
    return Reply(None, status=202)


def _attach(call, volume, args):
    if not args.get("instance_uuid") and not args.get("host_name"):
        raise BadRequest("Invalid request to attach volume to an invalid target")
    if not args.get("mountpoint"):
        raise BadRequest("Invalid input for field/attribute mountpoint. 'mountpoint' is a required property.")
    if args.get("mode", "rw") not in ("rw", "ro"):
        raise BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or "
                         "'ro'")
    actions.attach(volume, args.get("instance_uuid"), args["mountpoint"], args.get("host_name"))
    return Reply(None, status=202)


def _detach(call, volume, args):
    actions.detach(volume, attachment_id=args.get("attachment_id"))
    return Reply(None, status=202)


def _force_detach(call, volume, args):
    policy.enforce(call.ctx, "volume:admin_action", {"project_id": volume.project_id})
    actions.detach(volume, attachment_id=args.get("attachment_id"))
    return Reply(None, status=202)


def _upload(call, volume, args):
    name = args.get("image_name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Invalid input for field/attribute image_name. 'image_name' is a required property.")
    disk_format = args.get("disk_format", "raw")
    container_format = args.get("container_format", "bare")
    if disk_format not in DISK_FORMATS:
        raise BadRequest(f"Invalid input received: Invalid disk-format '{disk_format}' is specified. Allowed "
                         f"disk-formats are {', '.join(DISK_FORMATS)}.")
    if container_format not in CONTAINER_FORMATS:
        raise BadRequest(f"Invalid input received: Invalid container-format '{container_format}' is specified.")
    # visibility and protected are read from 3.1 on
    visibility = args.get("visibility", "private") if at_least(call, "3.1") else "private"
    if visibility not in ("public", "private", "shared", "community"):
        raise BadRequest(f"Invalid input received: Invalid visibility '{visibility}'.")
    result = actions.upload_to_image(
        call.cloud, call.db, volume, image_name=name, disk_format=disk_format, container_format=container_format,
        visibility=visibility,
        protected=_bool(args.get("protected", False), "protected") if at_least(call, "3.1") else False,
        force=_bool(args.get("force", False), "force"))
    result["updated_at"] = isotime(result["updated_at"])
    vtype = call.db.get(VolumeType, volume.volume_type_id)
    result["volume_type"] = render.volume_type(call, vtype) if vtype else None
    return Reply({"os-volume_upload_image": result}, status=202)


ACTIONS = {"os-set_bootable": _set_bootable, "os-update_readonly_flag": _readonly, "os-extend": _extend,
           "os-reset_status": _reset_status, "os-force_delete": _force_delete, "os-reserve": _reserve,
           "os-unreserve": _unreserve, "os-begin_detaching": _begin_detaching, "os-roll_detaching": _roll_detaching,
           "os-attach": _attach, "os-detach": _detach, "os-force_detach": _force_detach,
           "os-volume_upload_image": _upload, "os-extend_volume_completion": _extend_completion,
           "revert": _revert, "os-reimage": _reimage}


@router.post("/v3/{project_id}/volumes/{volume_id}/action")
def volume_action(call: Call):
    project(call)
    if not isinstance(call.body, dict) or len(call.body) != 1:
        raise BadRequest("Malformed request body: an action body has exactly one key, the action.")
    name, args = next(iter(call.body.items()))
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(f"There is no such action: {name}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise BadRequest(f"Invalid input for {name}: the action's arguments must be an object.")
    volume = volumes.get(call.db, call.ctx, call.params["volume_id"], lock=True)
    policy.enforce(call.ctx, "volume:action", {"project_id": volume.project_id})
    reply = handler(call, volume, args)
    call.db.flush()
    return reply
