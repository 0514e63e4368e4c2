"""``POST /v2.1/servers/{id}/action``: one action per request, as Nova's body names it."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import server_actions as actions
from kumo.compute.http.common import at_least, find_server, only_between, router
from kumo.compute.http.servers import (
    ACCESS_IP,
    METADATA,
    NAME,
    TRUSTED_CERTS,
    shown_after_change,
)
from kumo.compute.policies import policy
from kumo.errors import BadRequest, NotFound

REBOOT = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
REBUILD = {"type": "object", "required": ["imageRef"], "additionalProperties": False, "properties": {
    "imageRef": {"type": "string"}, "name": NAME, "adminPass": {"type": "string"}, "metadata": METADATA,
    "accessIPv4": ACCESS_IP, "accessIPv6": ACCESS_IP, "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
    "preserve_ephemeral": {"type": "boolean"}, "personality": {"type": "array"},
    "description": {"type": ["string", "null"], "maxLength": 255},
    "key_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
    "user_data": {"type": ["string", "null"], "maxLength": 65535},
    "trusted_image_certificates": TRUSTED_CERTS}}
RESIZE = {"type": "object", "required": ["flavorRef"], "properties": {
    "flavorRef": {"type": ["string", "integer"], "minLength": 1}, "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]}}}
CREATE_IMAGE = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
    "name": NAME, "metadata": {"type": "object"}}}
CONSOLE = {"type": ["object", "null"], "properties": {"length": {"type": ["integer", "string", "null"]}}}
SECURITY_GROUP = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255}}}
LOCK = {"type": ["object", "null"], "properties": {"locked_reason": {"type": "string", "maxLength": 255}}}

SIMPLE = {"os-stop": "stop", "os-start": "start", "pause": "pause", "unpause": "unpause", "suspend": "suspend",
          "resume": "resume", "confirmResize": "confirmResize", "revertResize": "revertResize"}


# nova-network era actions, gone from 2.44 (before it Kumo never had them: "no such action")
REMOVED_244 = ("addFixedIp", "removeFixedIp", "addFloatingIp", "removeFloatingIp")


def _args(body: dict, name: str, schema: dict) -> dict:
    return v.check(body[name], schema, name)


@router.post("/v2.1/servers/{server_id}/action")
def server_action(call: Call):
    body = call.body
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: exactly one action is expected.")
    name = next(iter(body))
    if name in REMOVED_244 and at_least(call, 44):
        raise NotFound("The resource could not be found.")
    ctx, db, cloud = call.ctx, call.db, call.cloud
    if name == "createImage":
        args = _args(body, name, CREATE_IMAGE)
        server = find_server(call, "os_compute_api:servers:create_image", write=True)
        image_id = actions.create_image(cloud, db, ctx, server, args["name"], args.get("metadata") or {})
        location = f"{cloud.settings.base_url}/image/v2/images/{image_id}"
        return Reply({"image_id": image_id} if at_least(call, 45) else None, status=202,
                     headers={"Location": location})
    if name == "os-getConsoleOutput":
        args = _args(body, name, CONSOLE) or {}
        server = find_server(call, "os_compute_api:os-console-output")
        length = args.get("length")
        if length is not None:
            try:
                length = int(length)
            except ValueError:
                raise BadRequest(f"Invalid input for field/attribute length. Value: {length}.") from None
            if length < -1:
                raise BadRequest(f"Invalid input for field/attribute length. Value: {length}. "
                                 f"{length} is less than the minimum of -1")
            if length == -1:
                length = None
        return {"output": actions.console_output(cloud, server, length)}

    server = find_server(call, "os_compute_api:servers:action", write=True)
    if name in SIMPLE:
        actions.begin(cloud, db, ctx, server, SIMPLE[name], name)
        return Reply(None, status=204 if name == "confirmResize" else 202)
    if name == "reboot":
        actions.reboot(cloud, db, ctx, server, _args(body, name, REBOOT)["type"])
        return Reply(None, status=202)
    if name == "rebuild":
        args = _args(body, name, REBUILD)
        only_between(call, args, "description", "rebuild", 19)
        only_between(call, args, "key_name", "rebuild", 54)
        only_between(call, args, "user_data", "rebuild", 57)
        only_between(call, args, "personality", "rebuild", last=56)
        only_between(call, args, "trusted_image_certificates", "rebuild", 63)
        admin_pass = args.get("adminPass") or server.admin_pass or ""
        actions.rebuild(cloud, db, ctx, server, image_ref=args["imageRef"], name=args.get("name"),
                        metadata=args.get("metadata"), admin_pass=admin_pass, access_ipv4=args.get("accessIPv4"),
                        access_ipv6=args.get("accessIPv6"), key_name=args.get("key_name", ...),
                        user_data=args.get("user_data", ...), description=args.get("description", ...),
                        trusted_certs=args.get("trusted_image_certificates", ...))
        shown = shown_after_change(call, server)
        shown.pop("OS-EXT-SRV-ATTR:user_data", None)  # 2.75: rebuild shows it as ``user_data`` (2.57)
        if at_least(call, 54):
            shown["key_name"] = server.key_name
        if at_least(call, 57):
            shown["user_data"] = server.user_data
        shown["adminPass"] = admin_pass
        return Reply({"server": shown}, status=202)
    if name == "resize":
        args = _args(body, name, RESIZE)
        actions.resize(cloud, db, ctx, server, str(args["flavorRef"]))
        return Reply(None, status=202)
    if name == "lock":
        # the reason exists from 2.73 (a schema'd body); before it the body is not looked at, as Nova's
        args = (_args(body, name, LOCK) or {}) if at_least(call, 73) else {}
        actions.lock(db, ctx, server, args.get("locked_reason"))
        return Reply(None, status=202)
    if name == "unlock":
        actions.unlock(db, ctx, server)
        return Reply(None, status=202)
    if name in ("addSecurityGroup", "removeSecurityGroup"):
        group = _args(body, name, SECURITY_GROUP)["name"]
        (actions.add_security_group if name == "addSecurityGroup" else actions.remove_security_group)(
            db, ctx, server, group)
        return Reply(None, status=202)
    policy.enforce(ctx, "os_compute_api:servers:action", {"project_id": server.project_id})
    raise BadRequest(f"There is no such action: {name}")
