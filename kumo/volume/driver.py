"""The volume driver interface: what Cinder's logic asks of a storage backend.

Small, explicit operations on one volume or snapshot, named by Kumo's ids (a
backend's own names — file paths, loop devices — never leave the driver except
as the host path ``connect`` returns). Every operation is idempotent and
blocking: it runs in a worker, never on the request path, and may be repeated
after a crash. Sizes are in GiB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

GiB = 1 << 30


class DriverError(Exception):
    """A backend operation failed; the volume or snapshot goes to an error status."""


class VolumeDriver(Protocol):
    name: str
    capabilities: dict  # e.g. {"snapshot": True, "clone": True, "extend": True, "block_device": True}

    def create(self, volume_id: str, size_gb: int) -> None: ...  # a blank volume
    def delete(self, volume_id: str) -> None: ...  # disconnects first; fine if it is gone
    def extend(self, volume_id: str, size_gb: int) -> None: ...
    def clone(self, src_volume_id: str, dst_volume_id: str, size_gb: int) -> None: ...
    def snapshot(self, volume_id: str, snapshot_id: str) -> None: ...
    def delete_snapshot(self, snapshot_id: str) -> None: ...
    def create_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None: ...
    def copy_from_file(self, volume_id: str, source: Path, size_gb: int) -> None: ...  # image bytes → volume
    def copy_to_file(self, volume_id: str, target: Path) -> None: ...  # volume → a file (image upload)
    # the volume's content replaced (it is connected to nothing): by a snapshot's, by an image's bytes
    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None: ...
    def reimage(self, volume_id: str, source: Path, size_gb: int) -> None: ...
    def connect(self, volume_id: str) -> Path: ...  # the host path of the volume's block device
    def disconnect(self, volume_id: str) -> None: ...
    def reconcile(self, volume_ids: Iterable[str], snapshot_ids: Iterable[str], connected: Iterable[str]) -> None:
        """At start: remove what the backend holds for volumes and snapshots the store does not know, and
        disconnect volumes that nothing uses (not in ``connected``)."""
    def cleanup(self) -> None: ...  # everything the driver made outside its directory (kumo reset)


def build(cloud) -> VolumeDriver:
    """The loop-device driver on the local backend, sparse files alone otherwise."""
    root = cloud.settings.data_dir / "volumes"
    if cloud.backend.name == "local":
        from kumo.volume.drivers.loop import LoopDriver
        return LoopDriver(root)
    from kumo.volume.drivers.simulated import SimulatedDriver
    return SimulatedDriver(root)
