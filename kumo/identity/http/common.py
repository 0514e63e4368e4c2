"""What every identity handler shares: the router, links, timestamps, filters from the query."""

from __future__ import annotations

from datetime import datetime

from kumo.api import errors
from kumo.api.routing import Call, Router

router = Router(errors.keystone, inline_reads=True)  # its reads: the database and the token cache

FILTER_OPS = ("", "__contains", "__icontains", "__startswith", "__istartswith", "__endswith", "__iendswith",
              "__equals", "__iequals")


def base(call: Call) -> str:
    return call.cloud.settings.base_url + "/identity/v3"


def link(call: Call, path: str) -> dict:
    return {"self": f"{base(call)}/{path}"}


def collection_links(call: Call) -> dict:
    return {"self": call.url, "previous": None, "next": None}


def isotime(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if dt else None


def query_filters(call: Call, names) -> dict[str, str]:
    """The ``?name=``-style filters the caller gave among ``names`` (with Keystone's operators)."""
    found = {}
    for name in names:
        for op in FILTER_OPS:
            value = call.query.get(name + op)
            if value is not None:
                found[name + op] = value
    return found


def body_of(call: Call, key: str) -> dict:
    """``call.body[key]`` (schemas have already checked it is an object)."""
    return call.body[key]
