"""Volumes as sparse files under ``<data_dir>/volumes/`` (no block devices): the simulated backend,
and the file handling the loop driver builds on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

from kumo.volume.driver import DriverError, GiB

_CHUNK = 4 << 20


class SimulatedDriver:
    name = "simulated"
    capabilities = {"snapshot": True, "clone": True, "extend": True, "block_device": False}

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "snapshots").mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------
    def volume_path(self, volume_id: str) -> Path:
        return self.root / f"volume-{volume_id}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.root / "snapshots" / f"snapshot-{snapshot_id}"

    # -- lifecycle ---------------------------------------------------------------
    def create(self, volume_id: str, size_gb: int) -> None:
        path = self.volume_path(volume_id)
        with open(path, "ab") as fh:
            fh.truncate(size_gb * GiB)

    def delete(self, volume_id: str) -> None:
        self.disconnect(volume_id)
        self.volume_path(volume_id).unlink(missing_ok=True)
        _partial(self.volume_path(volume_id)).unlink(missing_ok=True)

    def extend(self, volume_id: str, size_gb: int) -> None:
        path = self._existing(volume_id)
        if path.stat().st_size < size_gb * GiB:
            os.truncate(path, size_gb * GiB)

    def clone(self, src_volume_id: str, dst_volume_id: str, size_gb: int) -> None:
        self._copy(self._existing(src_volume_id), self.volume_path(dst_volume_id), size_gb)

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        target = self.snapshot_path(snapshot_id)
        if not target.exists():
            source = self._existing(volume_id)
            self._copy(source, target, source.stat().st_size // GiB)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshot_path(snapshot_id).unlink(missing_ok=True)
        _partial(self.snapshot_path(snapshot_id)).unlink(missing_ok=True)

    def create_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None:
        source = self.snapshot_path(snapshot_id)
        if not source.exists():
            raise DriverError(f"snapshot {snapshot_id} has no data")
        self._copy(source, self.volume_path(volume_id), size_gb)

    def copy_from_file(self, volume_id: str, source: Path, size_gb: int) -> None:
        if Path(source).stat().st_size > size_gb * GiB:
            raise DriverError("the image is larger than the volume")
        self._copy(Path(source), self.volume_path(volume_id), size_gb)

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        source = self.snapshot_path(snapshot_id)
        if not source.exists():
            raise DriverError(f"snapshot {snapshot_id} has no data")
        target = self._existing(volume_id)
        self._replace(source, target, target.stat().st_size // GiB)

    def reimage(self, volume_id: str, source: Path, size_gb: int) -> None:
        if Path(source).stat().st_size > size_gb * GiB:
            raise DriverError("the image is larger than the volume")
        self._existing(volume_id)
        self._replace(Path(source), self.volume_path(volume_id), size_gb)

    def copy_to_file(self, volume_id: str, target: Path) -> None:
        """The volume's bytes up to its last allocated extent (rounded up to a MiB): a raw image that fills a
        volume to the same content, without the trailing holes that would cost an image store a GiB each."""
        _sparse_copy(self._existing(volume_id), Path(target))
        os.truncate(target, _data_end(Path(target)))

    def connect(self, volume_id: str) -> Path:
        return self._existing(volume_id)

    def disconnect(self, volume_id: str) -> None:
        pass

    def reconcile(self, volume_ids: Iterable[str], snapshot_ids: Iterable[str], connected: Iterable[str]) -> None:
        volumes, snapshots = set(volume_ids), set(snapshot_ids)
        for path in self.root.glob("volume-*"):
            ident = path.name[len("volume-"):].removesuffix(".part")
            if ident not in volumes or path.name.endswith(".part"):
                path.unlink(missing_ok=True)
        for path in (self.root / "snapshots").glob("snapshot-*"):
            ident = path.name[len("snapshot-"):].removesuffix(".part")
            if ident not in snapshots or path.name.endswith(".part"):
                path.unlink(missing_ok=True)

    def cleanup(self) -> None:
        pass

    # -- helpers -------------------------------------------------------------------
    def _existing(self, volume_id: str) -> Path:
        path = self.volume_path(volume_id)
        if not path.exists():
            raise DriverError(f"volume {volume_id} has no data")
        return path

    @staticmethod
    def _replace(source: Path, target: Path, size_gb: int) -> None:
        """``target``'s content replaced by ``source``'s (then grown to ``size_gb``), atomically: a crash
        leaves the old content or the new, never a mix."""
        partial = _partial(target)
        partial.unlink(missing_ok=True)
        _sparse_copy(source, partial)
        if partial.stat().st_size < size_gb * GiB:
            os.truncate(partial, size_gb * GiB)
        partial.rename(target)

    @staticmethod
    def _copy(source: Path, target: Path, size_gb: int) -> None:
        """``source`` into a new ``target`` of ``size_gb``, atomically (a crash leaves no half volume)."""
        if target.exists():
            return
        partial = _partial(target)
        _sparse_copy(source, partial)
        if partial.stat().st_size < size_gb * GiB:
            os.truncate(partial, size_gb * GiB)
        partial.rename(target)


def _data_end(path: Path) -> int:
    """Where the last data extent of a sparse file ends, rounded up to a MiB (at least one MiB)."""
    end = 0
    with open(path, "rb") as fh:
        fd, size, pos = fh.fileno(), os.fstat(fh.fileno()).st_size, 0
        while pos < size:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                break
            pos = os.lseek(fd, pos, os.SEEK_HOLE)
            end = pos
    return min(max(-(-end // (1 << 20)) * (1 << 20), 1 << 20), max(size, 1))


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _sparse_copy(source: Path, target: Path) -> None:
    """Copy keeping holes (coreutils' cp skips them with SEEK_DATA); plain copy if cp is missing."""
    cp = shutil.which("cp")
    if cp:
        proc = subprocess.run([cp, "--sparse=always", str(source), str(target)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DriverError(f"copy failed: {proc.stderr.strip()}")
        return
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        while chunk := src.read(_CHUNK):
            if chunk.count(0) == len(chunk):
                dst.seek(len(chunk), os.SEEK_CUR)
            else:
                dst.write(chunk)
        dst.truncate(size)
