"""The data-plane test bench: namespaces stand in for instances, a network agent plugs them, a private
database holds the desired state. Shared by the data-plane tests (fixtures in ``conftest.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

NEEDS_ROOT = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the data plane needs root (namespaces, bridges, nftables)"),
    pytest.mark.skipif(not (shutil.which("nft") and shutil.which("ip")), reason="nftables and iproute2 needed"),
]

BUSYBOX = shutil.which("busybox")
PING = """
import os, select, socket, struct, sys, time
def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
if sys.argv[2]:
    s.bind((sys.argv[2], 0))
ident = os.getpid() & 0xFFFF
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: set DF, never fragment
body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"k" * int(sys.argv[4])
packet = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
for attempt in range(int(sys.argv[5])):
    try:
        s.sendto(packet, (sys.argv[1], 0))
    except OSError as exc:  # larger than the interface's MTU
        print(exc)
        sys.exit(2)
    deadline = time.monotonic() + float(sys.argv[3])
    while (left := deadline - time.monotonic()) > 0 and select.select([s], [], [], left)[0]:
        reply, (peer, _) = s.recvfrom(4096)
        kind, _, _, got = struct.unpack("!BBHH", reply[20:26])
        if kind == 0 and got == ident and peer == sys.argv[1]:
            sys.exit(0)
sys.exit(1)
"""


class Plane:
    """A database, an agent on it, and helpers that build the desired state through the service functions."""

    def __init__(self, tmp_path: Path, template: Path):
        from kumo.context import Context
        from kumo.db import Database
        from kumo.network.agent import wake
        from kumo.network.agent.agent import Agent

        self.data_dir = tmp_path / "data"
        self.data_dir.mkdir()
        shutil.copy(template, self.data_dir / "kumo.db")  # migrated once per module
        self.db = Database(f"sqlite:///{self.data_dir / 'kumo.db'}")
        self.project = uuid.uuid4().hex
        self.ctx = Context(user_id="tester", project_id=self.project, roles=frozenset({"admin"}))
        self.agent = Agent(self.data_dir, self.db, host="kumo")
        wake.register(self.db, self.agent.touch)  # commits tell the agent which ports changed, as in a server
        self.handles: list[Path] = []

    # -- desired state ------------------------------------------------------------------------

    def network(self, cidr: str, **subnet) -> tuple[str, str]:
        from kumo.network import networks, subnets
        with self.db.session() as db:
            net = networks.create(db, project_id=self.project, name=f"n-{cidr}")
            sub = subnets.create(db, self.ctx, net, project_id=self.project, ip_version=4, cidr=cidr, **subnet)
            return net.id, sub.id

    def group(self, name: str) -> str:
        from kumo.network import security_groups
        with self.db.session() as db:
            return security_groups.create(db, project_id=self.project, name=name).id

    def default_group(self) -> str:
        from kumo.network import security_groups
        with self.db.session() as db:
            return security_groups.default_group(db, self.project).id

    def rule(self, group_id: str, **kw) -> str:
        from kumo.network import security_groups
        with self.db.session() as db:
            group = security_groups.get(db, self.ctx, group_id)
            return security_groups.create_rule(db, self.ctx, group, project_id=self.project, **kw).id

    def delete_rule(self, rule_id: str) -> None:
        from kumo.network.models import SecurityGroupRule
        with self.db.session() as db:
            db.delete(db.get(SecurityGroupRule, rule_id))

    def instance(self, network_id: str, groups=None, host: str = "kumo", **kw) -> Instance:
        """A port bound to this host, and a namespace published where the compute driver puts it."""
        from kumo.network import ipam, ports
        from kumo.network.models import Network
        device = uuid.uuid4().hex
        handle = self.data_dir / "instances" / device / "netns"
        handle.parent.mkdir(parents=True)
        handle.touch()
        subprocess.run(["unshare", f"--net={handle}", "ip", "link", "set", "lo", "up"], check=True)
        self.handles.append(handle)
        with self.db.session() as db:
            port = ports.create(db, self.ctx, db.get(Network, network_id), project_id=self.project,
                                device_id=device, device_owner="compute:nova", security_groups_ids=groups,
                                binding={"binding:host_id": host}, **kw)
            ip = ipam.fixed_ips(db, port.id)[0]["ip_address"]
            return Instance(self, port.id, device, handle, ip, port.mac_address)

    def delete_port(self, port_id: str) -> None:
        from kumo.network import ports
        from kumo.network.models import Port
        with self.db.session() as db:
            ports.delete(db, db.get(Port, port_id))

    def delete_network(self, network_id: str) -> None:
        from kumo.network import networks
        from kumo.network.models import Network
        with self.db.session() as db:
            networks.delete(db, db.get(Network, network_id))

    def router(self, *subnet_ids: str) -> tuple[str, dict]:
        """A router with an interface on each subnet; returns its id and subnet id → its port's MAC."""
        from kumo.network import routers
        from kumo.network.models import Router
        with self.db.session() as db:
            router = Router(project_id=self.project, name="r")
            db.add(router)
            db.flush()
            macs = {}
            for subnet_id in subnet_ids:
                port, _ = routers.add_interface(db, self.ctx, router, subnet_id=subnet_id)
                macs[subnet_id] = port.mac_address
            return router.id, macs

    def remove_router(self, router_id: str, *subnet_ids: str) -> None:
        from kumo.network import routers
        from kumo.network.models import Router
        with self.db.session() as db:
            router = db.get(Router, router_id)
            if router.gateway_port_id:
                routers.set_gateway(db, self.ctx, router, None)
            for subnet_id in subnet_ids:
                routers.remove_interface(db, self.ctx, router, subnet_id=subnet_id)
            routers.delete(db, router)

    def status(self, port_id: str) -> str:
        from kumo.network.models import Port
        with self.db.session(write=False) as db:
            return db.get(Port, port_id).status

    def reconcile(self):
        return self.agent.reconcile()

    # -- what is left -------------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        from kumo.network.agent import names
        prefix = names.data_prefix(self.data_dir)
        spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split()
        found = [f"netns {n}" for n in spaces if n.startswith(prefix)]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if cmd.startswith(b"dnsmasq") and str(self.data_dir.resolve()).encode() in cmd:
                    found.append(f"dnsmasq {pid}")
        if (self.data_dir / "network").exists():
            found.append("run dir")
        return found

    def close(self) -> None:
        from kumo.network.agent import cleanup, wake
        wake.unregister(self.db)
        cleanup(self.data_dir)
        for handle in self.handles:
            subprocess.run(["umount", str(handle)], capture_output=True, check=False)
        self.db.dispose()


class Instance:
    def __init__(self, plane: Plane, port_id: str, device: str, handle: Path, ip: str, mac: str):
        self.plane, self.port_id, self.device, self.handle, self.ip, self.mac = plane, port_id, device, handle, ip, mac

    def run(self, *argv: str, timeout: float = 10, check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run(["nsenter", f"--net={self.handle}", "--", *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} failed: {proc.stdout} {proc.stderr}")
        return proc

    def ping(self, address: str, source: str = "", size: int = 16, tries: int = 1, wait: float = 0.5) -> bool:
        """ICMP echoes through a raw socket (a lost reply costs ``wait``, not busybox ping's whole second):
        up to ``tries``, ``wait`` seconds apart, until one is answered; ``size`` bytes, never fragmented."""
        proc = self.run(sys.executable, "-I", "-S", "-c", PING, address, source, str(wait), str(size), str(tries),
                        timeout=tries * wait + 10)
        return proc.returncode == 0

    def reaches(self, address: str, **kw) -> bool:
        """Echoes answered (a few tries: the first may wait on ARP along a loaded machine's path)."""
        return self.ping(address, tries=6, **kw)

    def blocked(self, address: str, **kw) -> bool:
        """No answer to an echo within half a second."""
        return not self.ping(address, tries=1, **kw)

    def links(self) -> list[str]:
        return self.run("ip", "-o", "link", "show").stdout.split("\n")

    def serve_tcp(self, port: int) -> subprocess.Popen:
        """A TCP server answering ``ok`` to every connection (busybox nc in a loop)."""
        return subprocess.Popen(["nsenter", f"--net={self.handle}", "--", BUSYBOX, "sh", "-c",
                                 f"while true; do echo ok | {BUSYBOX} nc -l -p {port}; done"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def connect(self, address: str, port: int, timeout: float = 0.6, tries: int = 1) -> bool:
        """A TCP connection that reads ``ok``: up to ``tries`` attempts (positive checks use a few)."""
        code = ("import socket,sys\n"
                "s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
                "print(s.recv(10).decode().strip())")
        for _ in range(tries):
            proc = self.run(sys.executable, "-I", "-S", "-c", code, address, str(port), str(timeout),
                            timeout=timeout + 5)
            if proc.returncode == 0 and proc.stdout.strip() == "ok":
                return True
            time.sleep(0.1)
        return False
