"""The services the cloud serves: where each is mounted and what the catalog says of it.

A table, so that a start can write the catalog and mount every service before loading any but identity
(loading the other four takes ~0.4 s); each service's ``http`` package builds its ``SERVICE`` from its row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Declared:
    module: str  # the package whose ``SERVICE`` serves it
    type: str  # catalog type: identity, compute, network, image, block-storage
    name: str  # catalog name: keystone, nova, neutron, glance, cinderv3
    prefix: str  # mount point under the server's root, e.g. "/identity"
    description: str
    # path appended to the catalog URL, e.g. "/v2.1" for compute or "/v3/$(project_id)s" for block storage
    catalog_suffix: str = ""


IDENTITY = "kumo.identity.http"

DECLARED = (
    Declared(IDENTITY, "identity", "keystone", "/identity", "Kumo identity (Keystone v3)"),
    Declared("kumo.network.http", "network", "neutron", "/network", "Kumo networking (Neutron v2.0)"),
    Declared("kumo.image.http", "image", "glance", "/image", "Kumo image service (Glance v2)"),
    Declared("kumo.volume.http", "block-storage", "cinderv3", "/volume", "Kumo block storage (Cinder v3)",
             "/v3/$(project_id)s"),
    Declared("kumo.compute.http", "compute", "nova", "/compute", "Kumo compute (Nova v2.1)", "/v2.1"),
)


def declared(module: str) -> Declared:
    return next(entry for entry in DECLARED if entry.module == module)
