"""Flow classifiers: which traffic (from which logical port) a port chain steers."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import Conflict
from kumo.network.sfc import common
from kumo.network.sfc.models import FlowClassifier, PortChain

PROTOCOLS = ("tcp", "udp", "icmp")
ETHERTYPES = ("IPv4", "IPv6")
RANGES = ("source_port_range_min", "source_port_range_max", "destination_port_range_min",
          "destination_port_range_max")
MODEL = FlowClassifier
WRITABLE = {"name", "description", "project_id", "tenant_id", "ethertype", "protocol", *RANGES,
            "source_ip_prefix", "destination_ip_prefix", "logical_source_port", "logical_destination_port",
            "l7_parameters"}
UPDATABLE = {"name": common.text, "description": common.text}

not_found = common.not_found("FlowClassifierNotFound", "Flow Classifier")
port_not_found = common.not_found("FlowClassifierPortNotFound", "Flow Classifier Neutron Port")


def get(db: Session, ctx: Context, fc_id: str) -> FlowClassifier:
    row = db.get(FlowClassifier, fc_id)
    if not common.visible(row, ctx):
        raise not_found(fc_id)
    return row


def _ethertype(value) -> str:
    if value is None:
        return "IPv4"
    for known in ETHERTYPES:
        if isinstance(value, str) and value.lower() == known.lower():
            return known
    raise common.invalid("FlowClassifierInvalidEthertype", f"Flow Classifier does not support ethertype {value}."
                         f" Supported ethertype values are {list(ETHERTYPES)}.")


def _protocol(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return value.lower()
    raise common.invalid("FlowClassifierInvalidProtocol", f"Flow Classifier does not support protocol {value}."
                         f" Supported protocol values are {list(PROTOCOLS)}.")


def port_value(value) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 65535:
        raise common.invalid("FlowClassifierInvalidPortValue", f"Flow Classifier has invalid port value {value}.")
    return number


def _check_range(low, high, protocol) -> None:
    if low is not None and high is not None and low > high:
        raise common.invalid("FlowClassifierInvalidPortRange", f"Invalid IP protocol port range. min_port_range="
                             f"{low} must be lesser or equal to max_port_range={high}.")
    if (low is not None or high is not None) and protocol not in ("tcp", "udp"):
        raise common.invalid("FlowClassifierProtocolRequiredWithPorts",
                             "IP protocol must be TCP or UDP, if port range is given.")


def _check_prefix_family(value, ethertype: str) -> None:
    if value is not None and ipaddress.ip_network(value, strict=False).version != (4 if ethertype == "IPv4" else 6):
        raise common.invalid("FlowClassifierIpPrefixFormatConflictWithEthertype",
                             f"IP prefix {value} format conflicts with ethertype {ethertype}.")


def create(db: Session, ctx: Context, project_id: str, item: dict) -> FlowClassifier:
    ethertype = _ethertype(item.get("ethertype"))
    protocol = _protocol(item.get("protocol"))
    ranges = {key: port_value(item.get(key)) for key in RANGES}
    prefixes = {key: common.prefix(key, item.get(key)) for key in ("source_ip_prefix", "destination_ip_prefix")}
    l7 = item.get("l7_parameters")
    if l7 is not None and not isinstance(l7, dict):
        raise common.bad_attribute("l7_parameters", f"'{l7}' is not a dictionary")
    for key in l7 or {}:  # networking-sfc supports no l7 parameter yet
        raise common.invalid("FlowClassifierInvalidL7Parameter", f"Invalid Flow Classifier parameters: Unknown key"
                             f" {key}. Supported flow classifier parameters are {{}}.")
    _check_range(ranges["source_port_range_min"], ranges["source_port_range_max"], protocol)
    _check_range(ranges["destination_port_range_min"], ranges["destination_port_range_max"], protocol)
    for value in prefixes.values():
        _check_prefix_family(value, ethertype)
    logical = {}
    for key in ("logical_source_port", "logical_destination_port"):
        value = item.get(key)
        if value is not None:
            common.check_uuid(key, value)
            common.port(db, ctx, value, port_not_found)
        logical[key] = value
    fc = FlowClassifier(id=new_id(), project_id=project_id, name=common.text("name", item.get("name")),
                        description=common.text("description", item.get("description")), ethertype=ethertype,
                        protocol=protocol, l7_parameters={}, **ranges, **prefixes, **logical)
    if fc.logical_source_port is None:  # the steering driver classifies at a source port, as OVS's does
        raise common.invalid("FlowClassifierBadRequest", f"FlowClassifier {fc.id} does not set logical source port"
                             " in ovs driver")
    others = sa.select(FlowClassifier)
    if not ctx.is_admin:  # as networking-sfc queries: within what the caller sees
        others = others.where(FlowClassifier.project_id == (ctx.project_id or ""))
    for other in db.scalars(others):
        if conflict(fc, other, logical_ports=True):
            raise common.invalid("FlowClassifierInConflict",
                                 f"Flow Classifier conflicts with another Flow Classifier {other.id}.")
    db.add(fc)
    db.flush()
    return fc


def update(db: Session, ctx: Context, fc: FlowClassifier, item: dict) -> None:
    common.update(fc, item, UPDATABLE)


def chain_of(db: Session, fc_id: str) -> PortChain | None:
    return next((pc for pc in db.scalars(sa.select(PortChain)) if fc_id in (pc.flow_classifiers or [])), None)


def delete(db: Session, fc: FlowClassifier) -> None:
    if chain_of(db, fc.id) is not None:
        raise Conflict(f"Flow Classifier {fc.id} in use.", kind="FlowClassifierInUse")
    db.delete(fc)
    db.flush()


def _prefixes_meet(a, b) -> bool:
    if a is None or b is None:
        return True
    return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))


def _ranges_meet(a_min, a_max, b_min, b_max) -> bool:
    first = a_min is None or b_max is None or a_min <= b_max
    second = a_max is None or b_min is None or b_min <= a_max
    return first and second


def conflict(a: FlowClassifier, b: FlowClassifier, logical_ports: bool = False) -> bool:
    """Whether some packet matches both (networking-sfc's rule; unset fields match anything)."""
    same = (a.ethertype == b.ethertype
            and (a.protocol is None or b.protocol is None or a.protocol == b.protocol)
            and _prefixes_meet(a.source_ip_prefix, b.source_ip_prefix)
            and _prefixes_meet(a.destination_ip_prefix, b.destination_ip_prefix)
            and _ranges_meet(a.source_port_range_min, a.source_port_range_max,
                             b.source_port_range_min, b.source_port_range_max)
            and _ranges_meet(a.destination_port_range_min, a.destination_port_range_max,
                             b.destination_port_range_min, b.destination_port_range_max))
    if not same or not logical_ports:
        return same
    return all(x is None or y is None or x == y for x, y in (
        (a.logical_source_port, b.logical_source_port), (a.logical_destination_port, b.logical_destination_port)))


def render(fc: FlowClassifier) -> dict:
    return {"id": fc.id, "name": fc.name, "description": fc.description, "project_id": fc.project_id,
            "tenant_id": fc.project_id, "ethertype": fc.ethertype, "protocol": fc.protocol,
            **{key: getattr(fc, key) for key in RANGES},
            "source_ip_prefix": fc.source_ip_prefix, "destination_ip_prefix": fc.destination_ip_prefix,
            "logical_source_port": fc.logical_source_port, "logical_destination_port": fc.logical_destination_port,
            "l7_parameters": dict(fc.l7_parameters or {})}
