"""The one error helper: a ``KumoError`` rendered in the dialect of each OpenStack service."""

from __future__ import annotations

from typing import Callable

from kumo.errors import KumoError

# Nova and Cinder name the error object after the failure.
_FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest", 413: "overLimit",
                415: "unsupportedMediaType", 501: "notImplemented"}


def keystone(err: KumoError) -> dict:
    return {"error": {"code": err.status, "title": err.title, "message": err.message}}


def compute(err: KumoError) -> dict:
    name = _FAULT_NAMES.get(err.status, "computeFault")
    return {name: {"code": err.status, "message": err.message}}


def neutron(err: KumoError) -> dict:
    return {"NeutronError": {"type": err.kind, "message": err.message, "detail": ""}}


def glance(err: KumoError) -> dict:
    return {"code": err.status, "title": err.title, "message": err.message}


Dialect = Callable[[KumoError], dict]
