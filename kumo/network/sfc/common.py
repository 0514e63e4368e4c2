"""What the SFC resources share: input checks in networking-sfc's words, visibility, port lookups."""

from __future__ import annotations

import ipaddress
import uuid

from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, NotFound
from kumo.network.models import Port


def invalid(kind: str, message: str) -> BadRequest:
    return BadRequest(message, kind=kind)


def bad_attribute(attr: str, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for {attr}. Reason: {reason}", kind="HTTPBadRequest")


def required(item: dict, attr: str):
    if attr not in item:
        raise BadRequest(f"Failed to parse request. Required attribute '{attr}' not specified",
                         kind="HTTPBadRequest")
    return item[attr]


def check_uuid(attr: str, value) -> str:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise bad_attribute(attr, f"'{value}' is not a valid UUID.") from None
    if not isinstance(value, str):
        raise bad_attribute(attr, f"'{value}' is not a valid UUID.")
    return value


def uuid_list(attr: str, value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    seen = []
    for v in value:
        check_uuid(attr, v)
        if v in seen:
            raise bad_attribute(attr, f"Duplicate items in the list: '{v}'")
        seen.append(v)
    return seen


def text(attr: str, value, limit: int = 255) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_attribute(attr, f"'{value}' is not a valid string")
    if len(value) > limit:
        raise bad_attribute(attr, f"'{value}' exceeds maximum length of {limit}")
    return value


def boolean(attr: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise bad_attribute(attr, f"'{value}' cannot be converted to boolean")


def prefix(attr: str, value) -> str | None:
    """A CIDR (``type:subnet_or_none``): with a prefix length, and no host bits for IPv4."""
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except (ValueError, TypeError):
        raise bad_attribute(attr, f"'{value}' is not a valid IP subnet") from None
    if "/" not in value or (net.version == 4 and str(net) != value):
        raise bad_attribute(attr, f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    return value


def visible(row, ctx: Context) -> bool:
    return row is not None and (ctx.is_admin or row.project_id == (ctx.project_id or ""))


def port(db: Session, ctx: Context, port_id: str, not_found) -> Port:
    row = db.get(Port, port_id)
    if not visible(row, ctx):
        raise not_found(port_id)
    return row


def not_found(kind: str, what: str):
    def make(ident: str) -> NotFound:
        return NotFound(f"{what} {ident} not found.", kind=kind)
    return make


def update(row, item: dict, fields: dict) -> None:
    """Apply the updatable ``fields`` ({attr: checker}) present in ``item``."""
    for attr, check in fields.items():
        if attr in item:
            setattr(row, attr, check(attr, item[attr]))
