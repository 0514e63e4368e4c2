"""VXLAN between hosts, l2pop style: one ``nolearning`` VXLAN device per network on its bridge, and
static forwarding entries — an all-zeros entry per peer host (broadcast, unknown unicast, ARP) and
one per remote port's MAC — so frames go straight to the host the port is bound to.

A host takes part when its agent has a tunnel address. Agents of one data dir find each other's
addresses through a small registry file each writes in its run directory (``tunnel``: host id and
address); hosts on separate machines would register in the database instead.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kumo.network.agent.state import NetworkWant

PORT = 4789
ZERO = "00:00:00:00:00:00"


def link_name(network_id: str) -> str:
    return "vx-" + network_id.replace("-", "")[:11]


def register(run_root: Path, host: str, tunnel_ip: str) -> None:
    path = run_root / "tunnel"
    text = json.dumps({"host": host, "tunnel_ip": tunnel_ip})
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def peers(network_root: Path) -> dict[str, str]:
    """host id → tunnel address of every agent of this data dir that has one."""
    found = {}
    for path in network_root.glob("*/tunnel"):
        try:
            entry = json.loads(path.read_text())
            found[entry["host"]] = entry["tunnel_ip"]
        except (OSError, ValueError, KeyError):
            continue
    return found


def ensure(ip, existing: dict, net: NetworkWant, bridge_index: int, local_ip: str) -> int:
    name = link_name(net.id)
    link = existing.get(name)
    if link is not None and link["kind"] != "vxlan":
        ip.link("del", index=link["index"])
        link = None
    if link is None:
        ip.link("add", ifname=name, kind="vxlan", vxlan_id=net.vni, vxlan_local=local_ip, vxlan_port=PORT,
                vxlan_learning=0)
        index = ip.link_lookup(ifname=name)[0]
    else:
        index = link["index"]
    if link is None or link["master"] != bridge_index or link["mtu"] != net.mtu or not link["up"]:
        ip.link("set", index=index, master=bridge_index, mtu=net.mtu, state="up")
    return index


def sync_fdb(namespace: str, net: NetworkWant, addresses: dict[str, str], host: str) -> None:
    """Make the device's static entries exactly: flood to every peer hosting a port here, each remote MAC
    to its host."""
    name = link_name(net.id)
    want = set()
    for mac, other in net.remote:
        if other != host and other in addresses:
            want.add((ZERO, addresses[other]))
            want.add((mac.lower(), addresses[other]))
    proc = subprocess.run(["ip", "netns", "exec", namespace, "bridge", "-j", "fdb", "show", "dev", name],
                          capture_output=True, text=True, timeout=10, check=False)
    have = set()
    for entry in json.loads(proc.stdout or "[]"):
        if entry.get("dst"):
            have.add((entry["mac"].lower(), entry["dst"]))
    for mac, dst in sorted(have - want):
        subprocess.run(["ip", "netns", "exec", namespace, "bridge", "fdb", "del", mac, "dev", name, "dst", dst],
                       capture_output=True, timeout=10, check=False)
    for mac, dst in sorted(want - have):
        subprocess.run(["ip", "netns", "exec", namespace, "bridge", "fdb", "append", mac, "dev", name, "dst", dst],
                       capture_output=True, timeout=10, check=True)
