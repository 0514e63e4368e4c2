"""DHCP: one dnsmasq per network, in its own namespace on the network's bridge, as Neutron's DHCP agent runs it;
and router advertisements: one dnsmasq in RA mode per router namespace, where Neutron runs radvd.

Its files live in ``<data_dir>/network/dhcp/<network id>/``: ``hosts`` (MAC → address, one line per
port and address), ``opts`` (router, DNS servers, MTU, host routes per subnet), ``args`` (the command line it was
started with), ``pid`` and ``leases``. A change to the hosts or options is a SIGHUP; a change to the
command line (subnets added or removed) is a restart.

IPv6 follows the subnet's modes as Neutron does: DHCPv6 (only the ports' own addresses) for
``dhcpv6-stateful`` and, options only, ``dhcpv6-stateless`` subnets (and those with no mode at all), none
for ``slaac``; RAs from the router's interfaces for subnets with an ``ipv6_ra_mode`` (``advertise``; files in
``<data_dir>/network/<host ns>/ra/<router id>/``).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kumo.network.agent import names
from kumo.network.agent.state import NetworkWant

LEASE = "86400s"


class DhcpError(RuntimeError):
    pass


def _files(root: Path, network_id: str) -> Path:
    return root / network_id


def _argv(d: Path, net: NetworkWant) -> list[str]:
    argv = ["dnsmasq", "--no-hosts", "--no-resolv", "--port=0", "--bind-interfaces",
            f"--interface={names.DHCP_IFNAME}", "--except-interface=lo", "--conf-file=/dev/null",
            "--dhcp-authoritative", "--user=root", "--group=root", f"--pid-file={d / 'pid'}",
            f"--dhcp-hostsfile={d / 'hosts'}", f"--dhcp-optsfile={d / 'opts'}", f"--dhcp-leasefile={d / 'leases'}"]
    for i, s in enumerate(net.dhcp_subnets):
        cidr = ipaddress.ip_network(s.cidr)
        mask = cidr.netmask if cidr.version == 4 else cidr.prefixlen  # DHCPv6: only the hosts' own addresses
        argv.append(f"--dhcp-range=set:subnet{i},{cidr.network_address},static,{mask},{LEASE}")
    return argv


def _opts(net: NetworkWant) -> str:
    lines = []
    for i, s in enumerate(net.dhcp_subnets):
        tag = f"tag:subnet{i}"
        if s.ip_version == 6:  # routes and MTU come by router advertisement
            if s.dns_nameservers:
                lines.append(f"{tag},option6:dns-server," + ",".join(f"[{a}]" for a in s.dns_nameservers))
            continue
        lines.append(f"{tag},option:router" + (f",{s.gateway_ip}" if s.gateway_ip else ""))
        if s.dns_nameservers:
            lines.append(f"{tag},option:dns-server," + ",".join(s.dns_nameservers))
        lines.append(f"{tag},option:mtu,{net.mtu}")
        if s.host_routes:
            routes = [f"{r['destination']},{r['nexthop']}" for r in s.host_routes]
            if s.gateway_ip:
                routes.append(f"0.0.0.0/0,{s.gateway_ip}")  # option 121 replaces option 3 for clients that take it
            lines.append(f"{tag},option:classless-static-route," + ",".join(routes))
    return "\n".join(lines) + "\n"


def _hosts(net: NetworkWant) -> str:
    return "".join(f"{mac},[{ip}]\n" if ":" in ip else f"{mac},{ip}\n" for mac, ip in sorted(net.hosts))


def pid_of(d: Path) -> int | None:
    """The dnsmasq serving from ``d``, if it runs (checked against its command line, never a stranger)."""
    try:
        pid = int((d / "pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if f"--pid-file={d / 'pid'}".encode() in cmdline else None


def _write(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def ensure(root: Path, namespace: str, net: NetworkWant) -> None:
    """Run (or update) the network's dnsmasq inside ``namespace``."""
    d = _files(root, net.id)
    d.mkdir(parents=True, exist_ok=True)
    argv = _argv(d, net)
    changed = _write(d / "hosts", _hosts(net))
    changed = _write(d / "opts", _opts(net)) or changed
    restart = _write(d / "args", "\n".join(argv) + "\n")
    pid = pid_of(d)
    if pid is not None and not restart:
        if changed:
            os.kill(pid, signal.SIGHUP)
        return
    _launch(d, namespace, argv, pid, f"dnsmasq for network {net.id}")


def _launch(d: Path, namespace: str, argv: list[str], old_pid: int | None, what: str) -> None:
    """(Re)start a dnsmasq whose arguments changed; it writes its pid file under ``d`` once it serves."""
    if old_pid is not None:
        _stop_pid(old_pid)
    proc = subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, timeout=30,
                          check=False)
    if proc.returncode != 0 or pid_of(d) is None:
        (d / "args").unlink(missing_ok=True)
        raise DhcpError(f"{what} did not start: {proc.stderr.strip()[:500]}")


def _stop_pid(pid: int, grace: float = 2.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop(root: Path, network_id: str) -> None:
    d = _files(root, network_id)
    pid = pid_of(d)
    if pid is not None:
        _stop_pid(pid)
    shutil.rmtree(d, ignore_errors=True)


def stop_all(root: Path, keep: set[str] = frozenset()) -> None:
    """Stop every dnsmasq under ``root`` but those of ``keep``."""
    for name in served(root):
        if name not in keep:
            stop(root, name)


def served(root: Path) -> list[str]:
    """Networks with a DHCP directory (running or left behind)."""
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


# -- router advertisements ---------------------------------------------------------------------------

RA_INTERVAL = 30  # seconds between unsolicited advertisements (radvd's MinRtrAdvInterval in Neutron's config)
RA_LIFETIME = 1800  # seconds a host keeps the router as its default route
RA_FLAGS = {"slaac": "ra-only", "dhcpv6-stateless": "ra-stateless", "dhcpv6-stateful": "static"}


def advertise(d: Path, namespace: str, links: list[tuple[str, int, list[tuple[str, str]]]]) -> None:
    """Router advertisements from a router's namespace, as radvd does for Neutron's L3 agent: one dnsmasq
    in RA mode for the router's interfaces ``links`` (name, MTU, [(IPv6 cidr, ipv6_ra_mode)]). Per
    mode, the prefix and flags: slaac → autonomous (A); dhcpv6-stateless → A and "other configuration"
    (O); dhcpv6-stateful → "managed" (M), the prefix on-link only. It answers no DHCPv6 itself (every
    client is ignored): the network's DHCP server does that. No links: it stops."""
    if not links:
        stop(d.parent, d.name)
        return
    d.mkdir(parents=True, exist_ok=True)
    argv = ["dnsmasq", "--no-hosts", "--no-resolv", "--port=0", "--bind-interfaces", "--except-interface=lo",
            "--conf-file=/dev/null", "--user=root", "--group=root", f"--pid-file={d / 'pid'}", "--leasefile-ro",
            "--enable-ra", "--dhcp-ignore=tag:!known"]
    for name, mtu, prefixes in sorted(links):
        argv += [f"--interface={name}", f"--ra-param={name},mtu:{mtu},{RA_INTERVAL},{RA_LIFETIME}"]
        for cidr, mode in sorted(prefixes):
            net = ipaddress.ip_network(cidr)
            argv.append(f"--dhcp-range={net.network_address},{RA_FLAGS.get(mode, 'ra-only')},{net.prefixlen},"
                        f"{LEASE}")  # the prefix's valid lifetime
    restart = _write(d / "args", "\n".join(argv) + "\n")
    pid = pid_of(d)
    if pid is not None and not restart:
        return
    _launch(d, namespace, argv, pid, f"dnsmasq (router advertisements) in {namespace}")
