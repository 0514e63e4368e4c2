"""What every block-storage handler shares: the router (Cinder's error dialect and microversion header),
the caller's project from the URL, links and timestamps."""

from __future__ import annotations

import functools
import re
from datetime import datetime

from kumo.api import errors
from kumo.api.routing import Call, Router, error_response
from kumo.errors import BadRequest, KumoError, NotAcceptable, NotFound

MIN_VERSION = "3.0"
MAX_VERSION = "3.71"  # the highest microversion implemented (see kumo/volume/__init__.py)
HEADER = "OpenStack-API-Version"
_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


@functools.lru_cache(maxsize=128)
def _tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _asked(values: tuple[str, ...]) -> str | None:
    """What the request asks for, as Cinder reads it (microversion_parse): the last ``volume <v>`` of
    ``OpenStack-API-Version``; failing that, the header's last item taken as a bare version (the legacy
    form ``OpenStack-API-Version: 3.27``)."""
    if not values:
        return None
    items = ",".join(values).split(",")
    for item in reversed(items):
        parts = item.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "volume":
            return parts[1].strip()
    return items[-1].strip()


def negotiate(headers) -> str:
    """The microversion of a request (3.0 when not asked for): 400 for a malformed one, 406 out of range."""
    values = headers.getlist(HEADER) if hasattr(headers, "getlist") else [headers.get(HEADER)]
    return _negotiate(tuple(v for v in values if v is not None))


@functools.lru_cache(maxsize=256)  # clients send a few distinct values; renders ask for each item of a list
def _negotiate(values: tuple[str, ...]) -> str:
    version = _asked(values)
    if version is None:
        return MIN_VERSION
    if version == "latest":
        return MAX_VERSION
    if not _VERSION.match(version):
        raise BadRequest(f"API Version String {version} is of invalid format. Must be of format "
                         "MajorNum.MinorNum.")
    if not _tuple(MIN_VERSION) <= _tuple(version) <= _tuple(MAX_VERSION):
        raise NotAcceptable(f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} "
                            f"and maximum is {MAX_VERSION}.")
    return version


def version(call: Call) -> tuple[int, int]:
    """The request's microversion (the router has already refused a bad one)."""
    return _tuple(negotiate(call.headers))



def at_least(call: Call, wanted: str) -> bool:
    return version(call) >= _tuple(wanted)


def require(call: Call, wanted: str) -> None:
    """A resource or action that exists from microversion ``wanted`` on: Cinder's 404 below it."""
    if not at_least(call, wanted):
        raise NotFound(f"API version {'.'.join(map(str, version(call)))} is not supported on this method.")


def filter_rules(call: Call):
    """The list-filter rules of the request's microversion."""
    from kumo.volume.filtering import Rules

    return Rules(version(call))


def with_count(call: Call) -> bool:
    """``with_count=true`` on a list (3.45+): the reply also says how many match in all."""
    from kumo.db.filters import as_bool

    return at_least(call, "3.45") and as_bool(call.query.get("with_count", "false"))


class VolumeRouter(Router):
    """A Router whose replies under ``/v3`` (errors too) carry the negotiated ``OpenStack-API-Version``,
    and which serves every ``/v3/{project_id}/…`` route without the project too (3.67: the project
    is then the token's)."""

    def route(self, path: str, methods: list[str], **kw):
        register = super().route(path, methods, **kw)
        prefix = "/v3/{project_id}/"
        if not path.startswith(prefix):
            return register
        unscoped = super().route("/v3/" + path[len(prefix):], methods, **kw)

        def both(handler):
            register(handler)
            return unscoped(handler)
        return both

    def _adapt(self, handler, body_kind: str, write: bool):
        inner = super()._adapt(handler, body_kind, write)
        dialect = self.dialect

        async def endpoint(request):
            scope = request.scope
            if not scope["path"][len(scope.get("root_path", "")):].startswith("/v3"):  # GET /: no negotiation
                return await inner(request)
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
    """The project in the URL, which must be the caller's (Cinder: "Malformed request url"); the caller's
    when the URL has none."""
    ctx = call.ctx
    project_id = call.params.get("project_id", ctx.project_id)
    if project_id != ctx.project_id or not project_id:
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
