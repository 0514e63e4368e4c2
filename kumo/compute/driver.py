"""The compute driver interface: what Nova's logic asks of a backend.

Like Nova's ``ComputeDriver`` and Ironic's hardware interfaces: small, explicit
operations on one instance, identified by the server's uuid (a backend's own
ids never leave its driver), and a ``capabilities`` dict that callers read
instead of probing. Every operation is idempotent (a worker may repeat it after
a crash) and blocking (it runs in a worker thread, never on the request path).
The specs are plain data: a driver never sees the database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class PowerState(enum.IntEnum):
    """Nova's power states (``OS-EXT-STS:power_state``)."""
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


@dataclass(frozen=True)
class BlockDevice:
    volume_id: str
    path: Path  # the host's block device (a loop device) or file backing the volume
    device_name: str  # as the guest sees it: /dev/vdb
    read_only: bool = False


@dataclass(frozen=True)
class Vif:
    """A network interface to plug (filled in by the networking service)."""
    port_id: str
    mac: str
    addresses: tuple[str, ...] = ()  # CIDR notation
    gateway: str | None = None
    mtu: int = 1500
    network_id: str = ""


@dataclass(frozen=True)
class InstanceSpec:
    uuid: str
    name: str
    hostname: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image_file: Path | None  # the image's bytes in the image store (None when booted from a volume)
    image_id: str | None = None
    disk_format: str = "raw"
    container_format: str = "bare"
    user_data: bytes | None = None
    metadata: dict = field(default_factory=dict)
    public_keys: dict = field(default_factory=dict)  # key name -> public key
    admin_password: str | None = None
    project_id: str = ""
    block_devices: tuple[BlockDevice, ...] = ()
    root_device: BlockDevice | None = None  # boot from volume
    vifs: tuple[Vif, ...] = ()


class DriverError(Exception):
    """A backend operation failed; the message becomes the server's fault."""


class ComputeDriver(Protocol):
    name: str  # shown as hypervisor_type in os-hypervisors
    capabilities: dict  # e.g. {"pause": True, "suspend": True, "console_output": True, "attach_volume": True}

    def spawn(self, spec: InstanceSpec) -> None: ...
    def destroy(self, uuid: str) -> None: ...  # removes everything the instance had; fine if it is gone
    def power_off(self, uuid: str) -> None: ...
    def power_on(self, spec: InstanceSpec) -> None: ...
    def reboot(self, spec: InstanceSpec, hard: bool) -> None: ...
    def pause(self, uuid: str) -> None: ...
    def unpause(self, uuid: str) -> None: ...
    def suspend(self, uuid: str) -> None: ...
    def resume(self, uuid: str) -> None: ...
    def rebuild(self, spec: InstanceSpec) -> None: ...  # new root filesystem from spec.image_file
    def resize(self, spec: InstanceSpec) -> None: ...  # apply spec's vcpus/ram/disk
    def power_state(self, uuid: str) -> PowerState: ...
    def console_output(self, uuid: str, lines: int | None = None) -> str: ...
    def attach_volume(self, uuid: str, device: BlockDevice) -> None: ...
    def detach_volume(self, uuid: str, device: BlockDevice) -> None: ...
    def snapshot(self, uuid: str, target: Path) -> None: ...  # the root filesystem as a tar file at target
    def list_instances(self) -> list[str]: ...  # uuids the backend holds (to find orphans)
    def host_info(self) -> dict: ...  # hypervisor_hostname, vcpus, memory_mb, local_gb, hypervisor_type
