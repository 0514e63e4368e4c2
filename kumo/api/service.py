"""What a service contributes to the cloud: where it is mounted and what the catalog says of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kumo.api.routing import Router


@dataclass(frozen=True)
class ServiceInfo:
    type: str  # catalog type: identity, compute, network, image, block-storage
    name: str  # catalog name: keystone, nova, neutron, glance, cinderv3
    prefix: str  # mount point under the server's root, e.g. "/identity"
    router: Router
    description: str
    # path appended to the catalog URL, e.g. "/v2.1" for compute or "/v3/$(project_id)s" for block storage
    catalog_suffix: str = ""
    # called once at start with the Cloud: build drivers, register worker topics, resume unfinished work
    on_start: Callable[[Any], None] | None = None
    # what ``kumo status`` shows of it: counts(db) -> {"name": n} (a value may be a dict, e.g. by status)
    counts: Callable[[Any], dict[str, Any]] | None = None
