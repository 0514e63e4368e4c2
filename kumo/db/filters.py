"""List filters shared by every service: equality, Keystone's ``__contains``-style operators, booleans."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.errors import BadRequest

FALSE = {"0", "false", "no", "off", "f", "n"}
OPERATORS = ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "equals", "iequals")


def as_bool(value: str) -> bool:
    return str(value).strip().lower() not in FALSE


def apply(query: sa.Select, columns: dict, filters: dict[str, str]) -> sa.Select:
    """Narrow ``query`` by ``filters`` (name → text) over the filterable ``columns`` (name → column)."""
    for key, value in filters.items():
        name, _, op = key.partition("__")
        column = columns.get(name)
        if column is None:
            continue
        if op and op not in OPERATORS:
            raise BadRequest(f"Invalid filter operator: {op}")
        python_type = getattr(column.type, "python_type", str) if hasattr(column, "type") else str
        if python_type is bool:
            query = query.where(column.is_(as_bool(value)))
            continue
        if value is None:
            query = query.where(column.is_(None))
        elif not op or op == "equals":
            query = query.where(column == value)
        elif op == "iequals":
            query = query.where(sa.func.lower(column) == value.lower())
        else:
            folded = op.startswith("i")
            kind = op[1:] if folded else op
            pattern = {"contains": f"%{_escape(value)}%", "startswith": f"{_escape(value)}%",
                       "endswith": f"%{_escape(value)}"}[kind]
            query = query.where(column.ilike(pattern, escape="\\") if folded
                                else column.like(pattern, escape="\\"))
    return query


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
