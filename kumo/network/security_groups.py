"""Security groups and their rules (the data plane enforces them with nftables)."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import after_commit
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network.models import DefaultSecurityGroup, Port, SecurityGroup, SecurityGroupRule

PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "icmpv6": 58,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "ipv6-nonxt": 59,
             "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
             "udp": 17, "udplite": 136, "vrrp": 112, "any": None}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}


def not_found(group_id: str) -> NotFound:
    return NotFound(f"Security group {group_id} does not exist", kind="SecurityGroupNotFound")


def get(db: Session, ctx: Context, group_id: str) -> SecurityGroup:
    group = db.get(SecurityGroup, group_id) if isinstance(group_id, str) else None
    if group is None or not (ctx.is_admin or group.project_id == ctx.project_id):
        raise not_found(group_id)
    return group


def default_group(db: Session, project_id: str) -> SecurityGroup:
    """The project's ``default`` group, created with Neutron's default rules on first need."""
    row = db.get(DefaultSecurityGroup, project_id)
    if row is not None:
        return db.get(SecurityGroup, row.security_group_id)
    group = SecurityGroup(project_id=project_id, name="default", description="Default security group",
                          is_default=True)
    db.add(group)
    db.flush()
    try:
        with db.begin_nested():
            db.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    except IntegrityError:  # a concurrent request made it first
        db.delete(group)
        db.flush()
        return db.get(SecurityGroup, db.get(DefaultSecurityGroup, project_id).security_group_id)
    for ethertype in ("IPv4", "IPv6"):
        db.add(SecurityGroupRule(project_id=project_id, security_group_id=group.id, direction="egress",
                                 ethertype=ethertype))
        db.add(SecurityGroupRule(project_id=project_id, security_group_id=group.id, direction="ingress",
                                 ethertype=ethertype, remote_group_id=group.id))
    db.flush()
    return group


# (database, project) → the id of its ``default`` group: a port create does not look it up each time. Filled
# once the transaction that read or made it commits; dropped when the group is deleted (here, before and after
# that commit). Per process: another process deleting a default group is not seen (Kumo serves from one).
_default_ids: dict[tuple[str, str], str] = {}


def _cache_key(db: Session, project_id: str) -> tuple[str, str]:
    return str(db.get_bind().url), project_id


def default_group_id(db: Session, project_id: str) -> str:
    """The id of the project's ``default`` group (made on first need), without loading the group."""
    key = _cache_key(db, project_id)
    found = _default_ids.get(key)
    if found is not None:
        return found
    row = db.get(DefaultSecurityGroup, project_id)
    found = row.security_group_id if row is not None else default_group(db, project_id).id
    if len(_default_ids) > 100_000:
        _default_ids.clear()
    after_commit(db, lambda: _default_ids.__setitem__(key, found))
    return found


def _forget_default(db: Session, group: SecurityGroup) -> None:
    key = _cache_key(db, group.project_id)
    _default_ids.pop(key, None)
    after_commit(db, lambda: _default_ids.pop(key, None))


def create(db: Session, *, project_id: str, name: str = "", description: str = "", stateful: bool = True,
           ) -> SecurityGroup:
    default_group(db, project_id)
    if name == "default":
        raise Conflict("Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists")
    group = SecurityGroup(project_id=project_id, name=name, description=description, stateful=stateful)
    db.add(group)
    db.flush()
    for ethertype in ("IPv4", "IPv6"):
        db.add(SecurityGroupRule(project_id=project_id, security_group_id=group.id, direction="egress",
                                 ethertype=ethertype))
    db.flush()
    return group


def update(db: Session, group: SecurityGroup, changes: dict) -> SecurityGroup:
    if "name" in changes and changes["name"] != group.name:
        if group.is_default:
            raise Conflict("Updating default security group not allowed.", kind="SecurityGroupCannotUpdateDefault")
        if changes["name"] == "default":
            raise Conflict("Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists")
    for key in ("name", "description", "stateful"):
        if key in changes:
            setattr(group, key, changes[key])
    db.flush()
    return group


def delete(db: Session, ctx: Context, group: SecurityGroup) -> None:
    if group.is_default and not ctx.is_admin:
        raise Conflict("Removing default security group not allowed.", kind="SecurityGroupCannotRemoveDefault")
    for port in db.scalars(sa.select(Port).where(Port.project_id == group.project_id)):
        if group.id in (port.security_group_ids or []):
            raise Conflict(f"Security Group {group.id} in use.", kind="SecurityGroupInUse")
    db.execute(sa.delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id))
    db.execute(sa.delete(DefaultSecurityGroup).where(DefaultSecurityGroup.security_group_id == group.id))
    if group.is_default:
        _forget_default(db, group)
    db.delete(group)
    db.flush()


def rules_of(db: Session, group_ids: list[str]) -> dict[str, list[SecurityGroupRule]]:
    result: dict[str, list] = {gid: [] for gid in group_ids}
    if group_ids:
        for rule in db.scalars(sa.select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(group_ids))
                               .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)):
            result[rule.security_group_id].append(rule)
    return result


# -- rules -------------------------------------------------------------------

def _bad(message: str, kind: str = "InvalidInput") -> BadRequest:
    return BadRequest(message, kind=kind)


def normalize_protocol(protocol) -> str | None:
    if protocol is None:
        return None
    text = str(protocol).lower()
    if text in PROTOCOLS:
        return None if text == "any" else text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise _bad(f"Security group rule protocol {protocol} not supported. Only protocol values"
               f" {sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
               "SecurityGroupRuleInvalidProtocol")


def _check_ports(protocol: str | None, low, high) -> tuple[int | None, int | None]:
    for value in (low, high):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _bad(f"Invalid value for port {value}")
    if protocol in ICMP_PROTOCOLS:
        if low is None and high is not None:
            raise _bad(f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) is missing.",
                       "SecurityGroupMissingIcmpType")
        if low is not None and not 0 <= low <= 255:
            raise _bad(f"Invalid value for ICMP type (port-range-min): {low}. It must be 0 to 255.",
                       "SecurityGroupInvalidIcmpValue")
        if high is not None and not 0 <= high <= 255:
            raise _bad(f"Invalid value for ICMP code (port-range-max): {high}. It must be 0 to 255.",
                       "SecurityGroupInvalidIcmpValue")
        return low, high
    for value in (low, high):
        if value is not None and not 0 <= value <= 65535:
            raise _bad(f"Invalid value for port {value}")
    if low is None and high is None:
        return None, None
    if protocol is None:
        raise _bad("Must also specify protocol if port range is given.", "SecurityGroupProtocolRequiredWithPorts")
    if protocol not in PORT_PROTOCOLS:
        raise _bad(f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP and"
                   f" DCCP.", "SecurityGroupInvalidProtocolForPort")
    if low is None or high is None or low > high:
        raise _bad("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                   "SecurityGroupInvalidPortRange")
    if low == 0:
        raise _bad("Invalid value for port 0", "SecurityGroupInvalidPortValue")
    return low, high


def create_rule(db: Session, ctx: Context, group: SecurityGroup, *, project_id: str, direction: str,
                ethertype: str = "IPv4", protocol=None, port_range_min=None, port_range_max=None,
                remote_ip_prefix=None, remote_group_id=None, description: str = "") -> SecurityGroupRule:
    if direction not in ("ingress", "egress"):
        raise _bad(f"Invalid input for direction. Reason: '{direction}' is not in ['ingress', 'egress'].")
    if ethertype not in ("IPv4", "IPv6"):
        raise _bad(f"Invalid input for ethertype. Reason: '{ethertype}' is not in ['IPv4', 'IPv6'].")
    protocol = normalize_protocol(protocol)
    if protocol == "icmp" and ethertype == "IPv6":
        protocol = "ipv6-icmp"
    low, high = _check_ports(protocol, port_range_min, port_range_max)
    if remote_ip_prefix is not None and remote_group_id is not None:
        raise _bad("Only remote_ip_prefix or remote_group_id may be provided.", "SecurityGroupRemoteGroupAndRemoteIpPrefix")
    if remote_ip_prefix is not None:
        try:
            prefix = ipaddress.ip_network(str(remote_ip_prefix), strict=False)
        except ValueError:
            raise _bad(f"Invalid input for remote_ip_prefix. Reason: '{remote_ip_prefix}' is not a valid IP prefix."
                       ) from None
        if "/" not in str(remote_ip_prefix) and not str(remote_ip_prefix).count(".") == 3 \
                and ":" not in str(remote_ip_prefix):
            raise _bad(f"Invalid input for remote_ip_prefix. Reason: '{remote_ip_prefix}' is not a valid IP prefix.")
        if (prefix.version == 4) != (ethertype == "IPv4"):
            raise _bad(f"Conflicting value ethertype {ethertype} for CIDR {remote_ip_prefix}",
                       "SecurityGroupConflictingEthertype")
        remote_ip_prefix = str(prefix)
    if remote_group_id is not None:
        remote = db.get(SecurityGroup, remote_group_id) if isinstance(remote_group_id, str) else None
        if remote is None or not (ctx.is_admin or remote.project_id in (ctx.project_id, group.project_id)):
            raise not_found(remote_group_id)
    for rule in db.scalars(sa.select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)):
        same = (rule.direction, rule.ethertype, rule.protocol, rule.port_range_min, rule.port_range_max,
                rule.remote_ip_prefix, rule.remote_group_id) == (direction, ethertype, protocol, low, high,
                                                                remote_ip_prefix, remote_group_id)
        if same:
            raise Conflict(f"Security group rule already exists. Rule id is {rule.id}.",
                           kind="SecurityGroupRuleExists")
    rule = SecurityGroupRule(project_id=project_id, security_group_id=group.id, direction=direction,
                             ethertype=ethertype, protocol=protocol, port_range_min=low, port_range_max=high,
                             remote_ip_prefix=remote_ip_prefix, remote_group_id=remote_group_id,
                             description=description or "")
    db.add(rule)
    db.flush()
    return rule


def get_rule(db: Session, ctx: Context, rule_id: str) -> SecurityGroupRule:
    rule = db.get(SecurityGroupRule, rule_id)
    if rule is None or not (ctx.is_admin or rule.project_id == ctx.project_id):
        raise NotFound(f"Security group rule {rule_id} does not exist", kind="SecurityGroupRuleNotFound")
    return rule
