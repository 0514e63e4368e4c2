"""Tags on Neutron resources with standard attributes (``standard-attr-tag``, ``tag-creation``).

A resource's tags are a set of strings (at most 255 characters each), kept on its ``tags`` column.
"""

from __future__ import annotations

from kumo.errors import BadRequest, NotFound

MAX_TAG_LEN = 255


def check_tag(tag) -> str:
    if not isinstance(tag, str):
        raise BadRequest(f"Invalid input for operation: '{tag}' is not a valid string.", kind="InvalidInput")
    if len(tag) > MAX_TAG_LEN:
        raise BadRequest(f"Invalid input for operation: '{tag}' exceeds maximum length of {MAX_TAG_LEN}.",
                         kind="InvalidInput")
    return tag


def check_tags(tags) -> list[str]:
    """A list of unique tags, as Neutron accepts it in ``PUT …/tags`` and on create."""
    if not isinstance(tags, list):
        raise BadRequest(f"Invalid input for operation: '{tags}' is not a list.", kind="InvalidInput")
    checked = [check_tag(tag) for tag in tags]
    duplicates = sorted({tag for tag in checked if checked.count(tag) > 1})
    if duplicates:
        raise BadRequest(f"Invalid input for operation: Duplicate items in the list: '{', '.join(duplicates)}'.",
                         kind="InvalidInput")
    return checked


def replace(row, tags) -> list[str]:
    row.tags = check_tags(tags)
    return list(row.tags)


def add(row, tag: str) -> None:
    tag = check_tag(tag)
    if tag not in (row.tags or []):
        row.tags = [*(row.tags or []), tag]


def require(row, tag: str, resource: str) -> None:
    if tag not in (row.tags or []):
        raise NotFound(f"Tag {tag} could not be found for {resource} {row.id}.", kind="TagNotFound")


def remove(row, tag: str, resource: str) -> None:
    require(row, tag, resource)
    row.tags = [t for t in row.tags if t != tag]


def clear(row) -> None:
    row.tags = []
