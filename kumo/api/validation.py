"""Request bodies checked against JSON schemas, as Keystone, Nova and Cinder do."""

from __future__ import annotations

from kumo.errors import BadRequest

_validators: dict[int, tuple] = {}  # id(schema) -> (schema, its jsonschema validator)


def check(body, schema: dict, where: str = "") -> dict:
    """Return ``body`` when it satisfies ``schema`` (a module-level constant); else BadRequest
    naming the first bad field."""
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        import jsonschema  # on first use: 0.1 s of a start, which needs no validation

        cached = _validators[id(schema)] = (schema, jsonschema.Draft4Validator(schema))
    validator = cached[1]
    if validator.is_valid(body):
        return body
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(body))
    path = ".".join(str(p) for p in error.absolute_path) or where or "request body"
    if error.validator == "required":
        path = error.message.split("'")[1] if "'" in error.message else path
    raise BadRequest(f"Invalid input for field '{path}': {error.message}")


def name(max_length: int = 255) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"[\S]+"}


BOOLEAN = {"type": "boolean"}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
NULLABLE_ID = {"type": ["string", "null"], "minLength": 1, "maxLength": 64}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 65535}
TAGS = {"type": "array", "maxItems": 80, "uniqueItems": True,
        "items": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"}}


def resource(key: str, properties: dict, required: tuple[str, ...] = (), additional: bool = True) -> dict:
    """A body of the shape ``{key: {...}}``."""
    inner = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        inner["required"] = list(required)
    return {"type": "object", "properties": {key: inner}, "required": [key]}
