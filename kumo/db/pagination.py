"""The one pagination helper: sort keys, ``limit`` and ``marker`` (keyset), as OpenStack services page.

``paginate`` orders a query by the requested sort keys (the primary key is
always appended as the last tie-breaker, so the order is total), then keeps
the rows strictly after the marker row in that order. Portable SQL only: the
"after" condition is the expanded OR-chain, not a row-value comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.errors import BadRequest, NotFound


@dataclass(frozen=True)
class SortKey:
    column: sa.ColumnElement
    descending: bool = False


def parse_sort(pairs: list[tuple[str, str]], columns: dict, default: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """Validate ``[(key, "asc"|"desc"), …]`` against the sortable ``columns``; return ``[(key, descending)]``."""
    result = []
    for key, direction in pairs or default:
        if key not in columns:
            raise BadRequest(f"Invalid sort key: {key}.")
        direction = (direction or "asc").lower()
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}.")
        result.append((key, direction == "desc"))
    return result


def paginate(db: Session, query: sa.Select, model, columns: dict, sort: list[tuple[str, bool]],
             limit: int | None = None, marker: str | None = None, marker_error=None, rows: bool = False) -> list:
    """Rows of ``query`` (selecting ``model``) in ``sort`` order, after ``marker``, at most ``limit``;
    ``rows``: the query selects columns of ``model``'s table, and Core rows are returned (no ORM objects)."""
    pk = sa.inspect(model).primary_key[0]
    keys = [SortKey(columns[name], desc) for name, desc in sort]
    if not any(k.column is pk for k in keys):
        keys.append(SortKey(pk, keys[-1].descending if keys else False))
    if marker is not None:
        row = db.get(model, marker)
        if row is None:
            raise marker_error or NotFound(f"Marker {marker} could not be found.")
        values = [getattr(row, k.column.key) for k in keys]
        clauses = []
        for i, key in enumerate(keys):
            equal = [keys[j].column == values[j] for j in range(i)]
            value = values[i]
            if value is None:  # NULLs sort first ascending: everything non-NULL comes after
                after = key.column.is_not(None) if not key.descending else sa.false()
            else:
                after = key.column < value if key.descending else key.column > value
                if key.descending:
                    after = sa.or_(after, key.column.is_(None))
            clauses.append(sa.and_(*equal, after))
        query = query.where(sa.or_(*clauses))
    for key in keys:
        column = key.column
        query = query.order_by(column.desc().nulls_last() if key.descending else column.asc().nulls_first())
    if limit is not None:
        if limit < 0:
            raise BadRequest("Limit must be a non-negative integer.")
        query = query.limit(limit)
    return db.connection().execute(query).all() if rows else list(db.scalars(query))


def parse_limit(value: str | None, maximum: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(f"Invalid limit: {value!r} is not an integer.") from None
    if limit < 0:
        raise BadRequest("Limit must be a non-negative integer.")
    return min(limit, maximum) if maximum else limit
