"""What every compute handler shares: the router (microversions, Nova's headers), links, times, lookups."""

from __future__ import annotations

import re
from datetime import datetime

from starlette.routing import Route
from starlette.routing import Router as StarletteRouter

from kumo.api import errors
from kumo.api.routing import Call, Router, error_response
from kumo.compute import servers
from kumo.compute.policies import policy
from kumo.errors import BadRequest, KumoError, NotAcceptable

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 85)
VERSION_HEADERS = ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version")
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def parse_version(headers) -> tuple[int, int]:
    """The microversion asked for (Nova's rules): the newer header wins; absent means 2.1."""
    asked = None
    combined = headers.get("openstack-api-version")
    if combined:
        for part in combined.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute":
                asked = value.strip()
    if asked is None:
        asked = headers.get("x-openstack-nova-api-version")
    if asked is None:
        return MIN_VERSION
    asked = asked.strip()
    if asked.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(asked)
    if not match:
        raise BadRequest(f"API Version String {asked} is of invalid format. Must be of format "
                         "MajorNum.MinorNum.")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise NotAcceptable(f"Version {asked} is not supported by the API. Minimum is {text(MIN_VERSION)} "
                            f"and maximum is {text(MAX_VERSION)}.")
    return version


def version(call: Call) -> tuple[int, int]:
    return parse_version(call.headers)


def at_least(call: Call, minor: int) -> bool:
    return version(call) >= (2, minor)


def only_between(call: Call, body: dict, field: str, entity: str, first: int = 1, last: int = 999) -> None:
    """A body field that exists only in microversions 2.first … 2.last: 400 outside, as Nova's schemas."""
    if field in body and not (2, first) <= version(call) <= (2, last):
        raise BadRequest(f"Invalid input for field/attribute {entity}. Value: {field}. Additional properties "
                         f"are not allowed ('{field}' was unexpected)")


class ComputeRouter(Router):
    """Nova's router: negotiates the microversion before the handler runs and echoes it, with
    ``x-compute-request-id``, on every reply (errors included)."""

    def _adapt(self, handler, body_kind: str, write: bool):
        inner = super()._adapt(handler, body_kind, write)
        dialect = self.dialect

        async def endpoint(request):
            request_id = request.scope["state"]["request_id"]
            try:
                asked = parse_version(request.headers)
            except KumoError as err:
                response, asked = error_response(err, dialect, request_id), None
                response.headers.update(self.response_headers(request_id))
            else:
                response = await inner(request)
            if asked is not None:
                response.headers["OpenStack-API-Version"] = "compute " + text(asked)
                response.headers["X-OpenStack-Nova-API-Version"] = text(asked)
                response.headers["Vary"] = ", ".join(VERSION_HEADERS)
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    def response_headers(self, request_id: str) -> dict[str, str]:
        return {"x-compute-request-id": request_id}


router = ComputeRouter(errors.compute)

_PROJECT_SEGMENT = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")


def add_legacy_routes() -> None:
    """``/v2.1/{project_id}/servers…`` as older clients build it: served by the same routes."""
    router.routes.append(Route("/v2.1/{project_id}/{rest:path}", _Legacy(), name="compute-legacy"))


async def _not_found(scope, receive, send):
    from kumo.errors import NotFound

    request_id = scope.get("state", {}).get("request_id", "")
    response = error_response(NotFound("The resource could not be found."), router.dialect, request_id)
    response.headers.update(router.response_headers(request_id))
    await response(scope, receive, send)


class _Legacy:
    """An ASGI app (so Starlette routes every method to it) that drops the project segment."""

    def __init__(self):
        self.inner = None

    async def __call__(self, scope, receive, send):
        if self.inner is None:
            self.inner = StarletteRouter(routes=[r for r in router.routes if r.name != "compute-legacy"],
                                         default=_not_found, redirect_slashes=False)
        from starlette._utils import get_route_path

        root = scope.get("root_path", "")
        parts = get_route_path(scope).split("/", 3)  # "", "v2.1", project, rest
        if len(parts) == 4 and _PROJECT_SEGMENT.match(parts[2]):
            path = f"/{parts[1]}/{parts[3]}"
        else:
            path = "/v2.1/-not-found-"
        await self.inner(dict(scope, path=root + path), receive, send)


# -- rendering helpers ----------------------------------------------------------------------------

def base(call: Call) -> str:
    return call.cloud.settings.base_url + "/compute"


def links(call: Call, collection: str, ident: str) -> list[dict]:
    return [{"rel": "self", "href": f"{base(call)}/v2.1/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{base(call)}/{collection}/{ident}"}]


def next_link(call: Call, collection: str, marker: str) -> list[dict]:
    from urllib.parse import urlencode

    params = [(k, v) for k, v in call.query.multi_items() if k != "marker"] + [("marker", marker)]
    return [{"rel": "next", "href": f"{base(call)}/v2.1/{collection}?{urlencode(params)}"}]


def isotime(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def usec_time(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else None


def find_server(call: Call, action: str, *, write: bool = False):
    """The server in the path, authorized for ``action``; other projects' servers are 404."""
    ctx = call.ctx
    server = servers.get(call.db, call.params["server_id"], None if ctx.is_admin else ctx.project_id,
                         for_update=write)
    policy.enforce(ctx, action, {"project_id": server.project_id, "user_id": server.user_id})
    return server


def body_dict(call: Call, key: str) -> dict:
    if not isinstance(call.body, dict) or not isinstance(call.body.get(key), dict):
        raise BadRequest(f"Invalid input for field/attribute {key}. Value: None. '{key}' is a required property")
    return call.body[key]


def time_query(call: Call, name: str) -> datetime | None:
    """``changes-since`` / ``changes-before``: an ISO 8601 time, naive UTC."""
    from datetime import UTC

    value = call.query.get(name)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {value}. "
                         f"'{value}' is not a 'date-time'") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def time_window(call: Call, before_from: int) -> tuple[datetime | None, datetime | None]:
    """``changes-since`` and, from 2.``before_from``, ``changes-before`` (not before the former)."""
    since = time_query(call, "changes-since")
    before = time_query(call, "changes-before") if at_least(call, before_from) else None
    if since is not None and before is not None and since > before:
        raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
    return since, before


def int_query(call: Call, name: str, minimum: int = 0) -> int | None:
    value = call.query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {value}. "
                         f"'{value}' does not match '^[0-9]*$'") from None
    if number < minimum:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {value}. "
                         f"{number} is less than the minimum of {minimum}")
    return number
