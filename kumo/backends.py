"""Which backend serves compute and networking here: the real local one, or the simulated one."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kumo.config import Settings


@dataclass(frozen=True)
class Backend:
    name: str
    reason: str


def detect(choice: str = "auto") -> Backend:
    if choice == "simulated":
        return Backend("simulated", "chosen in the settings")
    missing = []
    if os.geteuid() != 0:
        missing.append("not running as root")
    if not os.path.exists("/proc/self/ns/net"):
        missing.append("no network namespaces")
    if not shutil.which("nft"):
        missing.append("nftables (nft) not installed")
    from kumo.compute.drivers import local_cgroups
    from kumo.compute.drivers.local_host import find_busybox
    if not find_busybox():
        missing.append("no static busybox (Debian busybox-static)")
    if not local_cgroups.available():
        missing.append("no cgroup v1 cpu/memory/pids/freezer hierarchies")
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        missing.append("util-linux unshare/nsenter not installed")
    if choice == "local" and missing:
        raise ValueError(f"the local backend cannot run here: {'; '.join(missing)}")
    if missing:
        return Backend("simulated", "; ".join(missing))
    return Backend("local", "root, namespaces, cgroups and nftables available")


def cleanup(settings: Settings) -> None:
    """Remove what the backends made outside the data directory (nothing yet: identity only)."""
    from kumo.volume.drivers.loop import cleanup as detach_volume_loops
    detach_volume_loops(settings.data_dir / "volumes")
    data_dir = Path(settings.data_dir)
    if os.geteuid() == 0:
        from kumo.network.agent import cleanup as remove_data_plane
        remove_data_plane(data_dir)  # host and DHCP namespaces (bridges, veths, nft tables), dnsmasq
    if os.geteuid() == 0 and any((data_dir / sub).exists() for sub in ("instances", "runtime", "image-cache")):
        from kumo.compute.drivers.local import cleanup as destroy_local_instances
        destroy_local_instances(settings)  # instances (processes, cgroups, netns), image mounts, runtime tmpfs
