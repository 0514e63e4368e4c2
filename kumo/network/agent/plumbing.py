"""Links through netlink (pyroute2): the host namespace, bridges, and veths into instances and DHCP namespaces.

A socket inside a namespace is always made by ``netlink``: the calling thread enters the namespace for a
moment (``IPRoute(netns=…)`` forks a helper process per socket instead: ~5x slower, more in a large server
process). ``netlink(..., remember=True)`` keeps its link dump (``links``) until a link is changed through
it, so a pass reads the host namespace's links once rather than once per step.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import itertools
import logging
import os
import socket
import struct
import subprocess

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

log = logging.getLogger("kumo.network.agent")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80  # set on addresses configured by hand; not on those the kernel takes by SLAAC


class PlumbingError(RuntimeError):
    pass


class Netlink:
    """An ``IPRoute`` (every call but ``link`` goes straight to it) with a second, plain netlink socket in
    the same namespace for the link dump ``links`` reads (pyroute2 decodes every attribute of every link,
    ~3 ms a link; this reads the five it needs). With ``remember``, the dump is kept until a link is
    added, changed or deleted through it, or ``forget`` is called (links changed from elsewhere: another
    socket, a namespace removed)."""

    def __init__(self, ip: IPRoute, raw: socket.socket, remember: bool = False):
        self.ip, self.raw, self.remember = ip, raw, remember
        self.dump: dict[str, dict] | None = None

    def __getattr__(self, name):
        return getattr(self.ip, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.raw.close()
        self.ip.close()

    def link(self, command, **kw):
        if command not in ("get", "dump"):
            self.dump = None
        return self.ip.link(command, **kw)

    def forget(self) -> None:
        self.dump = None


@contextlib.contextmanager
def inside(target):
    """Run the block with this thread in ``target``'s network namespace (a namespace name, or a netns handle
    path); sockets made meanwhile stay in it. Only this thread moves, and it always comes back."""
    path = str(target) if str(target).startswith("/") else f"/run/netns/{target}"
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {path}: {os.strerror(ctypes.get_errno())}")
            try:
                yield
            finally:
                if _libc.setns(saved, CLONE_NEWNET) != 0:  # never leave this thread in another namespace
                    log.critical("could not return to the agent's own network namespace")
                    os._exit(70)
        finally:
            os.close(fd)
    finally:
        os.close(saved)


def netlink(target, remember: bool = False) -> Netlink:
    """Netlink sockets inside ``target`` (a namespace name, or a netns handle path), made by entering it
    from this thread for a moment; with ``remember``, the link dump is kept (see ``Netlink``)."""
    with inside(target):
        raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)  # NETLINK_ROUTE
        try:
            ip = IPRoute()
        except BaseException:
            raw.close()
            raise
    return Netlink(ip, raw, remember)


def namespaces(prefix: str) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def ensure_namespace(name: str, bridge_netfilter: bool = False) -> bool:
    """Make the namespace if it is missing (loopback up; br_netfilter on for a host namespace). True if made."""
    if name in netns.listnetns():
        return False
    netns.create(name)
    with netlink(name) as ip:
        lo = ip.link_lookup(ifname="lo")
        if lo:
            ip.link("set", index=lo[0], state="up")
    # the agent's own namespaces never take addresses or routes from tenants' router advertisements
    script = ["echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra", "echo 0 > /proc/sys/net/ipv6/conf/default/autoconf"]
    if bridge_netfilter:  # bridged IPv4/IPv6 through the inet hooks (per namespace)
        script += [f"echo 1 > /proc/sys/net/bridge/{key}" for key in ("bridge-nf-call-iptables",
                                                                       "bridge-nf-call-ip6tables")]
    subprocess.run(["ip", "netns", "exec", name, "sh", "-c", "; ".join(script)], capture_output=True, timeout=10,
                   check=False)
    return True


def remove_namespace(name: str) -> None:
    """Delete its links first (a veth's other end, in an instance, goes at once rather than whenever the
    kernel gets round to dismantling the namespace), then the namespace."""
    if name not in netns.listnetns():
        return
    try:
        with netlink(name) as ip:
            for link in ip.get_links():
                if link.get("IFLA_IFNAME") != "lo":
                    delete_link(ip, link["index"])
    except (OSError, NetlinkError):
        pass
    netns.remove(name)


def links(ip: IPRoute) -> dict[str, dict]:
    """name → index, kind, mtu, master, mac, up of every link (a copy of the remembered dump on a ``Netlink``)."""
    if not isinstance(ip, Netlink):
        return _links(ip)
    if ip.dump is None or not ip.remember:
        ip.dump = _dump_links(ip.raw)
    return {name: dict(link) for name, link in ip.dump.items()}


_seq = itertools.count(1)
RTM_NEWLINK, RTM_GETLINK, NLMSG_ERROR, NLMSG_DONE = 16, 18, 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_EXT_MASK, IFLA_INFO_KIND = 1, 3, 4, 10, 18, 29, 1
RTEXT_FILTER_SKIP_STATS = 8


def _attrs(data: bytes, start: int, end: int):
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, start)
        if length < 4:
            return
        yield kind & 0x3FFF, data[start + 4:start + length]
        start += (length + 3) & ~3


def _dump_links(sock: socket.socket) -> dict[str, dict]:
    """``links`` through a plain RTM_GETLINK dump, reading only the attributes it needs (no statistics)."""
    seq = next(_seq)
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + struct.pack("=HHI", 8, IFLA_EXT_MASK,
                                                                            RTEXT_FILTER_SKIP_STATS)
    sock.send(struct.pack("=LHHLL", 16 + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
    found: dict[str, dict] = {}
    while True:
        data = sock.recv(1 << 20)
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _, got, _ = struct.unpack_from("=LHHLL", data, offset)
            if length < 16:
                raise PlumbingError("malformed netlink reply")
            if got == seq:
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from("=i", data, offset + 16)[0]
                    if code:
                        raise OSError(-code, f"link dump: {os.strerror(-code)}")
                elif kind == RTM_NEWLINK:
                    _, index, flags, _ = struct.unpack_from("=HiII", data, offset + 18)
                    link = {"index": index, "kind": None, "mtu": None, "master": None, "mac": None, "up": bool(flags & 1)}
                    name = None
                    for attr, value in _attrs(data, offset + 32, offset + length):
                        if attr == IFLA_IFNAME:
                            name = value.split(b"\0", 1)[0].decode()
                        elif attr == IFLA_MTU:
                            link["mtu"] = struct.unpack_from("=I", value)[0]
                        elif attr == IFLA_MASTER:
                            link["master"] = struct.unpack_from("=I", value)[0]
                        elif attr == IFLA_ADDRESS:
                            link["mac"] = ":".join(f"{b:02x}" for b in value)
                        elif attr == IFLA_LINKINFO:
                            for sub, info in _attrs(value, 0, len(value)):
                                if sub == IFLA_INFO_KIND:
                                    link["kind"] = info.split(b"\0", 1)[0].decode()
                    found[name] = link
            offset += (length + 3) & ~3


def _links(ip: IPRoute) -> dict[str, dict]:
    found = {}
    for link in ip.get_links():
        info = link.get("IFLA_LINKINFO")
        found[link.get("IFLA_IFNAME")] = {"index": link["index"], "kind": info.get("IFLA_INFO_KIND") if info else None,
                                          "mtu": link.get("IFLA_MTU"), "master": link.get("IFLA_MASTER"),
                                          "mac": link.get("IFLA_ADDRESS"), "up": bool(link["flags"] & 1)}
    return found


def ensure_bridge(ip: IPRoute, existing: dict, name: str, mtu: int) -> int:
    link = existing.get(name)
    if link is not None and link["kind"] != "bridge":
        ip.link("del", index=link["index"])
        link = None
    if link is None:
        ip.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        index = ip.link_lookup(ifname=name)[0]
    else:
        index = link["index"]
    if link is None or link["mtu"] != mtu or not link["up"]:
        ip.link("set", index=index, mtu=mtu, state="up")
    return index


def delete_link(ip: IPRoute, index: int) -> None:
    try:
        ip.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != 19:  # ENODEV: gone already (a veth's peer went with its namespace)
            raise


def _find_by_mac(ip: IPRoute, mac: str) -> dict | None:
    for name, link in links(ip).items():
        if link["kind"] == "veth" and (link["mac"] or "").lower() == mac.lower():
            return {"name": name, **link}
    return None


def _configure_inside(ip: IPRoute, peer: dict, ifname: str, mac: str, mtu: int, addresses, gateways, up: bool,
                      fresh: bool = False) -> None:
    """``peer`` (as ``_find_by_mac`` found it) named ``ifname`` if it can be, with ``mac``, ``mtu``, state, the
    ``addresses`` (only those: others set by hand go) and default routes. ``fresh``: made just now, so
    it has no address yet."""
    index, this = peer["index"], peer
    if peer["name"] != ifname:
        current = links(ip)
        if ifname not in current:
            ip.link("set", index=index, state="down")
            ip.link("set", index=index, ifname=ifname)
            this = {**peer, "up": False}
    if (this["mac"] or "").lower() != mac.lower():
        ip.link("set", index=index, address=mac)
    if this["mtu"] != mtu:
        ip.link("set", index=index, mtu=mtu)
    if this["up"] != up:
        ip.link("set", index=index, state="up" if up else "down")
    have = set() if fresh else {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ip.get_addr(index=index)
                                if a["scope"] == 0 and a["flags"] & IFA_F_PERMANENT}
    want = {(str(ipaddress.ip_address(a)), n) for a, n in addresses}
    for address, prefixlen in have - want:
        ip.addr("del", index=index, address=address, prefixlen=prefixlen)
    for address, prefixlen in sorted(want - have):
        ip.addr("add", index=index, address=address, prefixlen=prefixlen, flags=IFA_F_NODAD)
    if not up:
        return
    for version, gateway in gateways.items():
        family = 10 if version == 6 else 2
        dst = "::/0" if version == 6 else "0.0.0.0/0"
        routes = [r for r in ip.get_routes(family=family, table=254) if r["dst_len"] == 0]
        if any(r.get("RTA_GATEWAY") == gateway and r.get("RTA_OIF") == index for r in routes):
            continue
        for r in routes:
            ip.route("del", dst=dst, gateway=r.get("RTA_GATEWAY"), oif=r.get("RTA_OIF"), family=family)
        try:
            ip.route("add", dst=dst, gateway=gateway, oif=index, family=family)
        except NetlinkError as exc:  # a gateway outside every subnet of the port: no default route
            if exc.code not in (101, 22):
                raise


def plug(ip: IPRoute, existing: dict, *, host_name: str, temp_name: str, bridge_index: int, target: str,
         ifname: str, mac: str, mtu: int, addresses, gateways=None, up: bool = True, verified: bool = False) -> None:
    """Make ``host_name`` (on the bridge) a veth whose peer is ``ifname`` in ``target`` (a namespace name or
    a netns handle path), with ``mac``, ``mtu``, ``addresses`` and default routes. Idempotent: what is
    right is left alone, what differs is fixed, and a veth whose other end is gone is made anew.
    ``verified``: the caller applied exactly this configuration before and the host end still exists
    (a veth pair lives and dies as one), so the inside need not be looked at again."""
    link = existing.get(host_name)
    if link is not None and link["kind"] != "veth":
        delete_link(ip, link["index"])
        link = None
    if link is not None and verified:
        if link["master"] != bridge_index or link["mtu"] != mtu or link["up"] != up:
            ip.link("set", index=link["index"], master=bridge_index, mtu=mtu, state="up" if up else "down")
        return
    with netlink(target) as inner:
        peer = _find_by_mac(inner, mac) if link is not None else None
        if link is not None and peer is None:
            delete_link(ip, link["index"])
            link = None
        fresh = link is None
        if link is None:
            link = _new_veth(ip, host_name, temp_name, bridge_index, target, ifname, mac, mtu, up)
            peer = _find_by_mac(inner, mac)
            if peer is None:
                raise PlumbingError(f"the veth end for {mac} did not arrive in {target}")
        if link["master"] != bridge_index or link["mtu"] != mtu or link["up"] != up:
            ip.link("set", index=link["index"], master=bridge_index, mtu=mtu, state="up" if up else "down")
        _configure_inside(inner, peer, ifname, mac, mtu, addresses, gateways or {}, up, fresh)


def _new_veth(ip: IPRoute, host_name: str, temp_name: str, bridge_index: int, target: str, ifname: str, mac: str,
              mtu: int, up: bool) -> dict:
    """A veth made in one request: ``host_name`` on the bridge, its peer ``ifname`` already in ``target`` with
    ``mac`` and ``mtu``. If ``ifname`` is taken in there, the peer goes in as ``temp_name`` (renamed later if
    it can be). Returns the host end as ``links`` describes it."""
    state = "up" if up else "down"
    fd = os.open(target if target.startswith("/") else f"/run/netns/{target}", os.O_RDONLY)
    try:
        try:
            ip.link("add", ifname=host_name, kind="veth", master=bridge_index, mtu=mtu, state=state,
                    peer={"ifname": ifname, "address": mac, "mtu": mtu, "net_ns_fd": fd})
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise
            stale = ip.link_lookup(ifname=temp_name)
            if stale:
                delete_link(ip, stale[0])
            ip.link("add", ifname=host_name, kind="veth", master=bridge_index, mtu=mtu, state=state,
                    peer={"ifname": temp_name, "address": mac, "mtu": mtu, "net_ns_fd": fd})
    finally:
        os.close(fd)
    return {"index": ip.link_lookup(ifname=host_name)[0], "mtu": mtu, "master": bridge_index, "up": up}


def accept_ra(target: str, ifname: str) -> None:
    """Let ``ifname`` inside ``target`` (a namespace name or a netns handle path) take router advertisements
    as a VM's kernel does: SLAAC addresses (EUI-64 from its MAC, no temporary ones) and default routes."""
    path = target if target.startswith("/") else f"/run/netns/{target}"
    conf = f"/proc/sys/net/ipv6/conf/{ifname}"
    script = f"echo 1 > {conf}/accept_ra; echo 1 > {conf}/autoconf; echo 0 > {conf}/use_tempaddr"
    subprocess.run(["nsenter", f"--net={path}", "--", "sh", "-c", script], capture_output=True, timeout=10,
                   check=False)


def netns_alive(path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def by_prefix(existing: dict, prefix: str) -> dict[str, dict]:
    return {n: l for n, l in existing.items() if n.startswith(prefix)}
