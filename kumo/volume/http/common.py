"""What every block-storage handler shares: the router (Cinder's error dialect and microversion header),
the caller's project from the URL, links and timestamps."""

from __future__ import annotations

import re
from datetime import datetime

from kumo.api import errors
from kumo.api.routing import Call, Router, error_response
from kumo.errors import BadRequest, KumoError, NotAcceptable

MIN_VERSION = "3.0"
MAX_VERSION = "3.0"  # the highest microversion implemented (see kumo/volume/__init__.py)
HEADER = "OpenStack-API-Version"
_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


def _tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def negotiate(headers) -> str:
    """The microversion asked for in ``OpenStack-API-Version: volume 3.x`` (3.0 when absent)."""
    for value in headers.getlist(HEADER) if hasattr(headers, "getlist") else [headers.get(HEADER) or ""]:
        for item in value.split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() != "volume":
                continue
            version = version.strip()
            if version.lower() == "latest":
                return MAX_VERSION
            if not _VERSION.match(version):
                raise BadRequest(f"API Version String {version} is of invalid format. Must be of format "
                                 "MajorNum.MinorNum.")
            if not _tuple(MIN_VERSION) <= _tuple(version) <= _tuple(MAX_VERSION):
                raise NotAcceptable(f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} "
                                    f"and maximum is {MAX_VERSION}.")
            return version
    return MIN_VERSION


class VolumeRouter(Router):
    """A Router whose replies (errors too) carry the negotiated ``OpenStack-API-Version``."""

    def _adapt(self, handler, body_kind: str, write: bool):
        inner = super()._adapt(handler, body_kind, write)
        dialect = self.dialect

        async def endpoint(request):
            try:
                version = negotiate(request.headers)
            except KumoError as err:
                response = error_response(err, dialect, request.scope["state"]["request_id"])
                version = MIN_VERSION
            else:
                response = await inner(request)
            response.headers[HEADER] = f"volume {version}"
            response.headers["Vary"] = HEADER
            return response

        endpoint.__name__ = handler.__name__
        return endpoint


router = VolumeRouter(errors.compute)


def project(call: Call) -> str:
    """The project in the URL, which must be the caller's (Cinder: "Malformed request url")."""
    project_id = call.params["project_id"]
    ctx = call.ctx
    if project_id != ctx.project_id:
        raise BadRequest("Malformed request url")
    return project_id


def scope(call: Call, project_id: str) -> str | None:
    """The project a list covers: the caller's, or every one (None) for an admin's ``all_tenants``."""
    from kumo.db.filters import as_bool
    from kumo.volume.policies import policy

    if as_bool(call.query.get("all_tenants", "0")) and policy.check(call.ctx, "volume:all_tenants"):
        return call.query.get("project_id") or None
    return project_id


def base(call: Call) -> str:
    return call.cloud.settings.base_url + "/volume"


def links(call: Call, project_id: str, collection: str, ident: str) -> list[dict]:
    return [{"href": f"{base(call)}/v3/{project_id}/{collection}/{ident}", "rel": "self"},
            {"href": f"{base(call)}/{project_id}/{collection}/{ident}", "rel": "bookmark"}]


def next_link(call: Call, project_id: str, path: str, last_id: str) -> list[dict]:
    """``…_links`` with the next page, the caller's query kept and the marker moved to ``last_id``."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in call.query.multi_items() if k not in ("marker", "offset")]
    params.append(("marker", last_id))
    return [{"href": f"{base(call)}/v3/{project_id}/{path}?{urlencode(params)}", "rel": "next"}]


def isotime(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else None


def body_object(call: Call, key: str) -> dict:
    """``call.body[key]`` as a dict, or Cinder's 400."""
    if not isinstance(call.body, dict) or not isinstance(call.body.get(key), dict):
        raise BadRequest(f"Missing required element '{key}' in request body.")
    return call.body[key]
