"""What a service contributes to the cloud: where it is mounted and what the catalog says of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kumo.api.routing import Router
from kumo.services import Declared, declared


@dataclass(frozen=True)
class ServiceInfo:
    declared: Declared  # its row of ``kumo.services.DECLARED``: catalog type and name, mount point
    router: Router
    # called once at start with the Cloud: build drivers, register worker topics, resume unfinished work
    on_start: Callable[[Any], None] | None = None
    # what ``kumo status`` shows of it: counts(db) -> {"name": n} (a value may be a dict, e.g. by status)
    counts: Callable[[Any], dict[str, Any]] | None = None

    @classmethod
    def of(cls, module: str, router: Router, **hooks) -> ServiceInfo:
        """The service served by package ``module`` (its ``__name__``), as ``kumo.services`` declares it."""
        return cls(declared(module), router, **hooks)

