"""What the agent calls things: namespaces, links, directories (one scheme, so cleanup can find them all).

Everything lives inside a per-host "hypervisor" namespace named ``kumo-<data dir>-<host>`` (two
short hashes), so link names only have to be unique within it; DHCP servers get namespaces named
after it. Link names are at most 15 characters (IFNAMSIZ).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

PREFIX = "kumo-"
BRIDGE = "br-"  # br-<network id>
TAP = "tap"  # tap<port id>: the host end of an instance's veth
DHCP_LINK = "dh"  # dh<network id>: the host end of a DHCP server's veth
DHCP_IFNAME = "ns-dhcp"  # its other end, inside the DHCP namespace
TEMP = "kp"  # kp<port id>: an instance end before it is renamed inside the instance
TRUNK_LINK = "tk"  # tk<subport id>: a trunk subport's link on its network's bridge
TRUNK_PEER = "tq"  # tq<subport id>: its peer, where VLAN-tagged frames are pushed and popped
CONTAINER_LINK = "ct"  # ct<subport id>: inside the instance, the nested container's veth end
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TABLE = "kumo"  # nft table name (inet and bridge families) inside the host namespace


def _short(text: str, n: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _id(uuid: str, n: int = 11) -> str:
    return uuid.replace("-", "")[:n]


def data_prefix(data_dir: Path) -> str:
    """The prefix of every namespace made for this data dir (whatever the host id)."""
    return f"{PREFIX}{_short(str(Path(data_dir).resolve()), 8)}-"


def host_namespace(data_dir: Path, host: str) -> str:
    return data_prefix(data_dir) + _short(host, 6)


def dhcp_namespace(host_ns: str, network_id: str) -> str:
    return f"{host_ns}-d{_id(network_id, 16)}"


def bridge(network_id: str) -> str:
    return BRIDGE + _id(network_id)


def tap(port_id: str) -> str:
    return TAP + _id(port_id)


def temp(port_id: str) -> str:
    return TEMP + _id(port_id)


def dhcp_link(network_id: str) -> str:
    return DHCP_LINK + _id(network_id)


def zone(network_id: str) -> int:
    """A conntrack zone per network (overlapping addresses on two networks never share state)."""
    return int(_short(network_id, 4), 16) % 65535 + 1


def run_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "network"


def instance_netns(data_dir: Path, device_id: str) -> Path | None:
    """The instance's network namespace handle as the compute driver publishes it."""
    if not SAFE_ID.match(device_id or ""):
        return None
    return Path(data_dir) / "instances" / device_id / "netns"


def trunk_link(port_id: str) -> str:
    return TRUNK_LINK + _id(port_id)


def trunk_peer(port_id: str) -> str:
    return TRUNK_PEER + _id(port_id)


def container_link(port_id: str) -> str:
    return CONTAINER_LINK + _id(port_id)


def container_netns(data_dir: Path, device_id: str, port_id: str) -> Path | None:
    """A nested container's network namespace handle (a trunk subport's), inside its instance's directory."""
    instance = instance_netns(data_dir, device_id)
    if instance is None or not SAFE_ID.match(port_id or ""):
        return None
    return instance.parent / "containers" / port_id
