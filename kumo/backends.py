"""Which backend serves compute and networking here: the real local one, or the simulated one."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

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
    if choice == "local" and missing:
        raise ValueError(f"the local backend cannot run here: {'; '.join(missing)}")
    if missing:
        return Backend("simulated", "; ".join(missing))
    return Backend("local", "root, namespaces, cgroups and nftables available")


def cleanup(settings: Settings) -> None:
    """Remove what the backends made outside the data directory (nothing yet: identity only)."""
