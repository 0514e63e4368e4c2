"""The networking data plane on the local backend: one agent per host reconciles the kernel to the database.

``start(cloud)`` (from the network service's ``on_start``, local backend only) registers the worker
topic ``network.agent``, wakes the agent after a committed change to networking rows that matters to
this host (``wake`` sums each commit up, ``Agent.wants`` judges it: a whole pass, a remote-group members
refresh, or nothing) and on a periodic tick (always a whole pass), and runs a first pass at once (which also removes what a crash left behind).
``cleanup(data_dir)`` removes everything any agent of a data dir made. Module layout: ``names``
(what things are called), ``state`` (desired state from the database), ``members`` (remote-group
members, kept between passes), ``plumbing`` (netlink), ``nft`` (nftables transactions through
libnftables), ``dhcp`` (dnsmasq), ``firewall`` (nftables security groups, changed incrementally), ``l3``
(router namespaces, SNAT, floating IPs), ``vxlan`` (tunnels between hosts), ``trunks`` (trunk subports as
containers nested in instances, over the eBPF VLAN program in ``bpf/``), ``ifnames`` (stable ``ethN`` names
and default-route holders inside instances, learned from the namespace when first met), ``agent`` (the reconciler),
``wake`` (change hooks: what each commit touched).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

TOPIC = "network.agent"
DEFAULT_HOST = "kumo"  # the binding:host_id compute gives the ports it creates
TICK = 15.0  # seconds between periodic passes
QUICK_TICK = 1.0  # seconds between passes while a new port waits for its instance's namespace

log = logging.getLogger("kumo.network.agent")


def start(cloud, host: str = DEFAULT_HOST, tick: float = TICK, tunnel_ip: str | None = None):
    from kumo.network.agent import wake
    from kumo.network.agent.agent import Agent

    agent = Agent(cloud.settings.data_dir, cloud.db, host, tunnel_ip=tunnel_ip,
                  expose=cloud.settings.expose_public_network)
    cloud.workers.register(TOPIC, lambda key, payload: agent.run())

    def poke() -> None:
        cloud.workers.submit(TOPIC, host)

    def changed(change) -> None:
        if agent.wants(change):  # most commits (networks and ports not on this host, renames) cost no pass
            poke()

    wake.register(cloud.db, changed)
    stop = threading.Event()

    def ticker() -> None:
        waited = 0.0
        while not stop.wait(QUICK_TICK):
            waited += QUICK_TICK
            if agent.pending or waited >= tick:  # quickly while a new instance is on its way
                waited = 0.0
                try:
                    agent.request_full()
                    poke()
                except Exception:  # pragma: no cover — never let the ticker die
                    log.exception("network agent tick failed")

    threading.Thread(target=ticker, name="kumo-network-agent-tick", daemon=True).start()
    poke()  # the first pass: converge (and clean up) at start
    agent.stop_ticker = stop.set
    return agent


def cleanup(data_dir: Path) -> None:
    from kumo.network.agent.agent import cleanup as remove_all
    remove_all(data_dir)
