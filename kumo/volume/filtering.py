"""List filters as Cinder applies them: which keys a caller may use (``resource_filters``, 3.31+),
``key~`` "like" filters (3.34+), time comparisons on ``created_at``/``updated_at`` (3.60+), metadata.

The HTTP layer says which microversion rules hold (``Rules``); the functions here are pure: they check
the keys and turn them into SQL conditions over a resource's columns.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kumo.db.filters import as_bool
from kumo.errors import BadRequest

# Cinder's default etc/cinder/resource_filters.json, for the resources served here
RESOURCE_FILTERS = {
    "volume": ["name", "status", "metadata", "bootable", "migration_status", "availability_zone", "group_id",
               "size", "created_at", "updated_at"],
    "backup": ["name", "status", "volume_id"],
    "snapshot": ["name", "status", "volume_id", "metadata", "availability_zone"],
    "group": ["name"],
    "group_snapshot": ["name", "status", "group_id"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"],
    "pool": ["name", "volume_type"],
    "volume_type": ["is_public", "extra_specs"],
}
# query parameters that are not filters
NOT_FILTERS = frozenset({"marker", "limit", "offset", "sort", "sort_key", "sort_dir", "with_count", "all_tenants",
                         "all_projects"})
TIME_OPERATORS = {"gt": "__gt__", "gte": "__ge__", "eq": "__eq__", "neq": "__ne__", "lt": "__lt__",
                  "lte": "__le__"}


@dataclass(frozen=True)
class Rules:
    """The filter rules of a microversion: ``strict_bool`` (3.2: ``bootable`` must be a boolean),
    ``glance_metadata`` (3.4), ``group_id`` (3.10), ``snapshot_metadata`` (3.22), ``general`` (3.31:
    unknown keys are refused for non-admins), ``like`` (3.34: ``key~``), ``times`` (3.60: comparisons on
    the time columns), ``consumes_quota`` (3.65)."""
    version: tuple[int, int] = (3, 0)

    strict_bool = property(lambda self: self.version >= (3, 2))
    glance_metadata = property(lambda self: self.version >= (3, 4))
    group_id = property(lambda self: self.version >= (3, 10))
    snapshot_metadata = property(lambda self: self.version >= (3, 22))
    general = property(lambda self: self.version >= (3, 31))
    like = property(lambda self: self.version >= (3, 34))
    times = property(lambda self: self.version >= (3, 60))
    consumes_quota = property(lambda self: self.version >= (3, 65))


LEGACY = Rules()

def requested(query, resource: str, rules: Rules, *, admin: bool, legacy: tuple[str, ...] = ()) -> dict[str, str]:
    """The filters of a list request. Before 3.31 a non-admin's unknown keys are dropped (only ``legacy``
    and the configured ones are kept); from 3.31 they are a 400, as are non-ASCII keys. An admin may
    filter on anything (a key that is no column is then ignored)."""
    given = {key: value for key, value in query.items() if key not in NOT_FILTERS}
    allowed = set(RESOURCE_FILTERS[resource])
    if not rules.general:
        return given if admin else {k: v for k, v in given.items() if k in allowed or k in legacy}
    for key in given:
        if not key.isascii():
            raise BadRequest(f"Filter keys can only contain ASCII characters: {key!r}.")
    if admin:
        return given
    invalid = [key for key in given
               if not (key in allowed or (rules.like and key.endswith("~") and key[:-1] in allowed))]
    if invalid:
        raise BadRequest(f"Invalid filters {','.join(invalid)} are found in query options.")
    return given


def conditions(filters: dict[str, str], columns: dict, rules: Rules, *, metadata=None, booleans=(),
               constants: dict | None = None) -> list:
    """SQL conditions for ``filters`` over ``columns`` (name → column). ``metadata``: a function from a
    dict to a condition; ``booleans``: columns whose value is read as a boolean; ``constants``: fields
    every row has the same value of here (name → (value, from microversion)). Unknown keys add nothing."""
    out = []
    for key, value in filters.items():
        like = rules.like and key.endswith("~")
        name = key[:-1] if like else key
        name = {"display_name": "name", "display_description": "description"}.get(name, name)
        if name == "metadata" and metadata is not None:
            out.append(metadata(parse_dict(value, "metadata")))
            continue
        if name in (constants or {}):
            fixed, since = constants[name]
            if rules.version >= since:
                same = as_bool(value) == fixed if isinstance(fixed, bool) else value in (fixed, str(fixed))
                out.append(sa.true() if same else sa.false())
            continue
        column = columns.get(name)
        if column is None:
            continue
        if name in ("created_at", "updated_at"):  # filters from 3.60 on
            if rules.times:
                out.extend(_time_conditions(column, name, value))
        elif name in booleans:
            out.append(column.is_(boolean(value, name, strict=rules.strict_bool)))
        elif like:
            escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(column.ilike(f"%{escaped}%", escape="\\"))
        else:
            out.append(column == value)
    return out


def _time_conditions(column, name: str, value: str) -> list:
    """``gte:2024-01-01T00:00:00,lt:2025-01-01T00:00:00`` → the comparisons (Cinder's 3.60 filters)."""
    out = []
    for unit in value.split(","):
        operator, _, text = unit.partition(":")
        if operator not in TIME_OPERATORS:
            raise BadRequest(f"Invalid {operator} operator")
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadRequest(f"Invalid {text} value") from None
        if when.tzinfo is not None:  # stored naive, in UTC
            when = when.astimezone(UTC).replace(tzinfo=None)
        out.append(getattr(column, TIME_OPERATORS[operator])(when))
    return out


def boolean(value: str, name: str, *, strict: bool) -> bool:
    """A filter's boolean: from 3.2 only true/false spellings (else 400); before, anything not false."""
    text = str(value).strip().lower()
    if strict and text not in ("t", "true", "1", "f", "false", "0", "y", "yes", "n", "no", "on", "off"):
        raise BadRequest(f"Invalid input received: '{value}' is not a valid value for {name}: it must be a "
                         "boolean.")
    return as_bool(text)


def parse_dict(text: str, what: str) -> dict:
    """A dict given as a query value (``metadata={'k': 'v'}``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise BadRequest(f"Invalid filter: {what} must be a dictionary.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid filter: {what} must be a dictionary.")
    return value
