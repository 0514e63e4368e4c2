"""What every Neutron handler shares: the router, list semantics (filters, fields, sorting,
pagination with links), standard attributes, and scoping to the caller's project."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa

from kumo.api import errors
from kumo.api.routing import Call, Reply, Router
from kumo.context import Context
from kumo.db import pagination
from kumo.db.filters import as_bool
from kumo.errors import BadRequest

router = Router(errors.neutron, inline_reads=True)

RESERVED_QUERY = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "tags", "tags-any",
                  "not-tags", "not-tags-any"}


def isotime(dt: datetime | str | None) -> str | None:
    """``2026-11-26T00:58:25Z``, from a datetime or from the text SQLite keeps (``raw_select``)."""
    if not dt:
        return None
    if isinstance(dt, str):  # "2026-11-26 00:58:25.409000"
        return f"{dt[:10]}T{dt[11:19]}Z"
    return f"{dt.isoformat(timespec='seconds')}Z"


def decoded(value):
    """A JSON column's value, from an ORM object (already decoded) or from ``raw_select`` (the text)."""
    if isinstance(value, str):
        return [] if value == "[]" else {} if value == "{}" else orjson.loads(value)
    return value


def raw_select(model) -> sa.Select:
    """Every column of ``model``'s table, JSON and timestamps as the database gives them (to ``decoded`` and
    ``isotime`` when rendered): a list renders thousands of rows, and building ORM objects, parsing
    timestamps and decoding JSON with the standard library would be most of its time."""
    return sa.select(*[sa.type_coerce(c, sa.String).label(c.key) if isinstance(c.type, (sa.JSON, sa.DateTime))
                       else c for c in model.__table__.c])


_RECORDS: dict[tuple, type] = {}


def records(rows) -> list:
    """Core rows as light records (named tuples): attribute access on a ``Row`` costs a Python call, and a
    list reads some thirty attributes of each of thousands of rows."""
    if not rows:
        return []
    keys = tuple(rows[0]._fields)
    record = _RECORDS.get(keys)
    if record is None:
        record = _RECORDS[keys] = namedtuple("Record", keys, rename=True)
    make = record._make
    return [make(row) for row in rows]


def standard(row) -> dict:
    tags = decoded(row.tags)
    return {"description": row.description or "", "tags": list(tags) if tags else [],
            "created_at": isotime(row.created_at), "updated_at": isotime(row.updated_at),
            "revision_number": row.revision_number, "project_id": row.project_id, "tenant_id": row.project_id}


def touch(row) -> None:
    """Record an update: a new revision number and updated_at."""
    from kumo.db import utcnow
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


def owner_for_create(call: Call, body: dict, quota: str | None = None) -> str:
    """The project a new resource belongs to: the caller's, or another one when an admin says so; with
    ``quota`` (Neutron's name for the resource), one more of it must fit in that project's quota."""
    ctx = call.ctx
    asked = body.get("project_id") or body.get("tenant_id")
    if body.get("project_id") and body.get("tenant_id") and body["project_id"] != body["tenant_id"]:
        raise BadRequest("Invalid input for operation: project_id and tenant_id do not match.")
    if asked and asked != ctx.project_id and not ctx.is_admin:
        from kumo.errors import Forbidden
        raise Forbidden("Only admins may create resources for other projects.", kind="HTTPForbidden")
    project_id = asked or ctx.project_id or ""
    if quota:
        from kumo.network import quotas
        quotas.check(call.db, project_id, quota)
    return project_id


def scope(query: sa.Select, model, ctx: Context, *extra_visible) -> sa.Select:
    """Limit a query to what the caller may see: everything for admins, else its project (plus ``extra``)."""
    if ctx.is_admin:
        return query
    return query.where(sa.or_(model.project_id == (ctx.project_id or ""), *extra_visible))


def _coerce(column, value: str):
    python_type = getattr(column.type, "python_type", str)
    if python_type is bool:
        return as_bool(value)
    if python_type is int:
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"Invalid input for filter: {value!r} is not an integer.") from None
    return value


def apply_filters(call: Call, query: sa.Select, columns: dict) -> sa.Select:
    """``?key=value`` (repeated keys mean any of) on the filterable ``columns``; unknown keys are ignored."""
    for key in set(call.query.keys()) - RESERVED_QUERY:
        column = columns.get(key)
        if column is None:
            continue
        values = call.query.getlist(key)
        if key == "tenant_id" and "project_id" in columns:
            column = columns["project_id"]
        coerced = [_coerce(column, v) for v in values]
        query = query.where(column.in_(coerced) if len(coerced) > 1 else column == coerced[0])
    return query


def tag_filter(call: Call, query: sa.Select, model) -> sa.Select:
    """``tags``/``tags-any``/``not-tags``/``not-tags-any`` (comma-separated): narrow ``query`` before it is
    sorted and paged, so that pages stay full. Tags are a JSON list, so the matching is done here."""
    wanted = {key: set(call.query.get(key).split(",")) for key in ("tags", "tags-any", "not-tags", "not-tags-any")
              if call.query.get(key)}
    if not wanted:
        return query
    if not hasattr(model, "tags"):
        return query.where(sa.false()) if "tags" in wanted or "tags-any" in wanted else query
    kept = []
    for row_id, tags in call.db.execute(query.with_only_columns(model.id, model.tags)):
        have = set(tags or [])
        if "tags" in wanted and not wanted["tags"] <= have:
            continue
        if "tags-any" in wanted and not wanted["tags-any"] & have:
            continue
        if "not-tags" in wanted and wanted["not-tags"] <= have:
            continue
        if "not-tags-any" in wanted and wanted["not-tags-any"] & have:
            continue
        kept.append(row_id)
    return query.where(model.id.in_(kept))


def wanted_fields(call: Call) -> set[str]:
    """``?fields=`` (repeated, or comma-separated): the attributes to show; empty, all of them."""
    return {f for value in call.query.getlist("fields") for f in value.split(",") if f}


def fields(call: Call, body: dict, wanted: set[str] | None = None) -> dict:
    if wanted is None:
        wanted = wanted_fields(call)
    return {k: v for k, v in body.items() if k in wanted} if wanted else body


def listing(call: Call, query: sa.Select, model, columns: dict, render, collection: str, default_sort="id",
            raw: bool = False):
    """A Neutron collection: filters, tags, sorting, pagination (with ``<collection>_links``), fields.
    ``raw``: ``query`` is a ``raw_select`` and ``render`` takes its rows."""
    query = tag_filter(call, apply_filters(call, query, columns), model)
    keys = call.query.getlist("sort_key")
    dirs = call.query.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise BadRequest("The number of sort_keys and sort_dirs must be same.")
    sort = pagination.parse_sort(list(zip(keys, dirs or ["asc"] * len(keys))), columns, [(default_sort, "asc")])
    limit = pagination.parse_limit(call.query.get("limit"))
    if limit == 0:
        limit = None
    reverse = as_bool(call.query.get("page_reverse", "false"))
    if reverse:
        sort = [(key, not desc) for key, desc in sort]
    marker = call.query.get("marker")
    rows = pagination.paginate(call.db, query, model, columns, sort, limit=limit, marker=marker, rows=raw)
    if raw:
        rows = records(rows)
    if reverse:
        rows.reverse()
    bodies = render(call, rows)
    wanted = wanted_fields(call)
    result = {collection: [{k: v for k, v in b.items() if k in wanted} for b in bodies] if wanted else bodies}
    if limit is not None:
        links = []
        base = {k: v for k, v in call.query.multi_items() if k not in ("marker", "page_reverse")}
        # as Neutron: "next" walks forward (no page_reverse), "previous" backward (page_reverse=True); past the
        # end, "previous" without a marker goes back to the last page
        if rows and (len(rows) >= limit or reverse):
            links.append({"rel": "next", "href": _href(call, base, rows[-1].id, False)})
        if (marker or reverse) and (len(rows) >= limit or not reverse):
            links.append({"rel": "previous", "href": _href(call, base, rows[0].id if rows else None, True)})
        result[f"{collection}_links"] = links
    return result


def _href(call: Call, base: dict, marker: str | None, reverse: bool) -> str:
    params = dict(base, marker=marker) if marker else dict(base)
    if reverse:
        params["page_reverse"] = "True"
    return call.url.split("?", 1)[0] + "?" + urlencode(params)


def created(body: dict) -> Reply:
    return Reply(body, status=201)


def deleted() -> Reply:
    return Reply(None, status=204)


def bulk_or_single(call: Call, singular: str, plural: str, create_one):
    """``{singular: {...}}`` creates one; ``{plural: [...]}`` creates all or none (one transaction)."""
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("Resource body required.")
    if plural in body:
        items = body[plural]
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise BadRequest(f"Invalid input: '{plural}' must be a non-empty list of objects.")
        return created({plural: [create_one(item) for item in items]})
    item = body.get(singular)
    if not isinstance(item, dict):
        raise BadRequest(f"Resource body required: '{singular}' object expected.")
    return created({singular: create_one(item)})


def body_for_update(call: Call, singular: str) -> dict:
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get(singular), dict):
        raise BadRequest(f"Resource body required: '{singular}' object expected.")
    return body[singular]


def take_tags(row, item: dict) -> None:
    """``tags`` in a create (or update) body: validated as ``PUT …/tags`` validates them."""
    if "tags" in item:
        from kumo.network import tags
        tags.replace(row, item["tags"] if item["tags"] is not None else [])


def check_keys(item: dict, allowed: set[str], read_only: set[str] = frozenset()) -> None:
    """Neutron answers unknown or read-only attributes with 400 (a webob ``HTTPBadRequest``)."""
    for key in item:
        if key in read_only:
            raise BadRequest(f"Cannot update read-only attribute {key}", kind="HTTPBadRequest")
        if key not in allowed:
            raise BadRequest(f"Unrecognized attribute(s) '{key}'", kind="HTTPBadRequest")
