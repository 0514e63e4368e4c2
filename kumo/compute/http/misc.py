"""Version discovery, availability zones, hypervisors and services (what this one host reports)."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.compute.http.common import (
    MAX_VERSION,
    MIN_VERSION,
    at_least,
    base,
    int_query,
    isotime,
    router,
    text,
)
from kumo.compute.manager import driver_of
from kumo.compute.models import Server
from kumo.compute.policies import policy
from kumo.compute.servers import AZ, HOST
from kumo.db import utcnow
from kumo.errors import BadRequest, NotFound

MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]


def _versions(call: Call) -> list[dict]:
    return [{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
             "links": [{"rel": "self", "href": f"{base(call)}/v2/"}]},
            {"id": "v2.1", "status": "CURRENT", "version": text(MAX_VERSION), "min_version": text(MIN_VERSION),
             "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{base(call)}/v2.1/"}]}]


@router.get("/")
def list_versions(call: Call):
    return {"versions": _versions(call)}


@router.route("/v2.1", ["GET"])
def show_version_bare(call: Call):
    return show_version(call)


@router.get("/v2.1/")
def show_version(call: Call):
    version = _versions(call)[1]
    version["links"] = version["links"] + [{"rel": "describedby", "type": "text/html",
                                            "href": "https://docs.openstack.org/"}]
    version["media-types"] = MEDIA_TYPES
    return {"version": version}


# -- availability zones ---------------------------------------------------------------------------

@router.get("/v2.1/os-availability-zone")
def list_zones(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-availability-zone:list", {})
    return {"availabilityZoneInfo": [{"zoneName": AZ, "zoneState": {"available": True}, "hosts": None}]}


@router.get("/v2.1/os-availability-zone/detail")
def list_zones_detail(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-availability-zone:detail", {})
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
    up = {"available": True, "active": True, "updated_at": now}
    return {"availabilityZoneInfo": [
        {"zoneName": "internal", "zoneState": {"available": True},
         "hosts": {HOST: {"nova-conductor": up, "nova-scheduler": up}}},
        {"zoneName": AZ, "zoneState": {"available": True}, "hosts": {HOST: {"nova-compute": up}}}]}


# -- hypervisors ----------------------------------------------------------------------------------

def _usage(call: Call) -> dict:
    rows = call.db.execute(sa.select(Server.flavor).where(Server.host.is_not(None)))
    used = {"vcpus": 0, "ram": 0, "disk": 0, "count": 0}
    for (flavor,) in rows:
        used["vcpus"] += flavor.get("vcpus", 0)
        used["ram"] += flavor.get("ram", 0)
        used["disk"] += flavor.get("disk", 0)
        used["count"] += 1
    return used


def _uuid(kind: str) -> str:
    """2.53: this host's hypervisor and services are known by uuid, stable across restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kumo:{kind}:{HOST}"))


HYPERVISOR_UUID = _uuid("hypervisor")


def _hypervisor_id(call: Call):
    return HYPERVISOR_UUID if at_least(call, 53) else 1


def _with_servers(call: Call) -> bool:
    value = call.query.get("with_servers")
    if value is None or not at_least(call, 53):
        return False
    if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise BadRequest(f"Invalid input for query parameters with_servers. Value: {value}. "
                         f"'{value}' is not a 'boolean'")
    return value.lower() in ("true", "1", "yes", "on")


def _hypervisor(call: Call, detail: bool, with_servers: bool = False) -> dict:
    info = driver_of(call.cloud).host_info()
    body = {"id": _hypervisor_id(call), "hypervisor_hostname": info["hypervisor_hostname"], "state": "up",
            "status": "enabled"}
    if with_servers:
        rows = call.db.execute(sa.select(Server.id, Server.name).where(Server.host.is_not(None))
                               .order_by(Server.created_at, Server.id)).all()
        if rows or at_least(call, 75):  # before 2.75 Nova leaves the key out when the host has none
            body["servers"] = [{"uuid": ident, "name": name} for ident, name in rows]
    if not detail:
        return body
    used = _usage(call)
    cpu_info = {"arch": "x86_64", "model": "host", "vendor": "kumo", "features": [],
                "topology": {"cores": info["vcpus"], "threads": 1, "sockets": 1}}
    body.update({
        "vcpus": info["vcpus"], "memory_mb": info["memory_mb"], "local_gb": info["local_gb"],
        "vcpus_used": used["vcpus"], "memory_mb_used": used["ram"], "local_gb_used": used["disk"],
        "hypervisor_type": info.get("hypervisor_type", driver_of(call.cloud).name),
        "hypervisor_version": int(info.get("hypervisor_version", 1)),
        "free_ram_mb": info["memory_mb"] - used["ram"], "free_disk_gb": info["local_gb"] - used["disk"],
        "current_workload": 0, "running_vms": used["count"], "disk_available_least": info["local_gb"] - used["disk"],
        "host_ip": info.get("host_ip", "127.0.0.1"),
        "cpu_info": cpu_info if at_least(call, 28) else json.dumps(cpu_info),
        "service": {"id": _service_id(call, 1, "nova-compute"), "host": HOST, "disabled_reason": None}})
    return body


def _hypervisors(call: Call, detail: bool) -> dict:
    policy.enforce(call.ctx, "os_compute_api:os-hypervisors", {})
    found = [_hypervisor(call, detail, _with_servers(call))]
    pattern = call.query.get("hypervisor_hostname_pattern") if at_least(call, 53) else None
    if pattern is not None:
        if "limit" in call.query or "marker" in call.query:
            raise BadRequest("Paging over hypervisors with the hypervisor_hostname_pattern query parameter is "
                             "not supported.")
        found = [h for h in found if pattern.lower() in h["hypervisor_hostname"].lower()]
        if not found:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    elif at_least(call, 33):  # paginated: one hypervisor
        limit = int_query(call, "limit")
        marker = call.query.get("marker")
        ident = str(_hypervisor_id(call))
        if marker is not None and marker != ident:
            raise BadRequest(f"marker [{marker}] not found")
        if marker == ident or limit == 0:
            found = []
    return {"hypervisors": found}


@router.get("/v2.1/os-hypervisors")
def list_hypervisors(call: Call):
    return _hypervisors(call, False)


@router.get("/v2.1/os-hypervisors/detail")
def list_hypervisors_detail(call: Call):
    return _hypervisors(call, True)


@router.get("/v2.1/os-hypervisors/statistics")
def hypervisor_statistics(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-hypervisors", {})
    h = _hypervisor(call, True)
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb",
            "free_disk_gb", "current_workload", "running_vms", "disk_available_least")
    return {"hypervisor_statistics": {"count": 1, **{k: h[k] for k in keys}}}


@router.get("/v2.1/os-hypervisors/{hypervisor_id}")
def show_hypervisor(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-hypervisors", {})
    asked = call.params["hypervisor_id"]
    if at_least(call, 53):
        try:
            uuid.UUID(asked)
        except ValueError:
            raise BadRequest(f"Invalid uuid {asked}") from None
    if asked != str(_hypervisor_id(call)):
        raise NotFound(f"Hypervisor with ID '{asked}' could not be found.")
    return {"hypervisor": _hypervisor(call, True, _with_servers(call))}


# -- services -------------------------------------------------------------------------------------

def _service_id(call: Call, number: int, binary: str):
    return _uuid(binary) if at_least(call, 53) else number


@router.get("/v2.1/os-services")
def list_services(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-services", {})
    now = isotime(utcnow()).rstrip("Z") + ".000000"
    found = []
    for ident, binary, zone in ((1, "nova-compute", AZ), (2, "nova-scheduler", "internal"),
                                (3, "nova-conductor", "internal")):
        service = {"id": _service_id(call, ident, binary), "binary": binary, "host": HOST, "zone": zone, "status": "enabled", "state": "up",
                   "updated_at": now, "disabled_reason": None}
        if at_least(call, 11):
            service["forced_down"] = False
        if call.query.get("binary") in (None, binary) and call.query.get("host") in (None, HOST):
            found.append(service)
    return {"services": found}

