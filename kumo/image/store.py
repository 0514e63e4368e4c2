"""Where image bytes live: a small driver interface and its filesystem implementation.

The filesystem store is content-addressed: an image's bytes are kept once under
``<data_dir>/images/<sha512[:2]>/<sha512>``, however many images hold them. A
``put`` streams into a temporary file (hashing as it goes) and returns a
``Staged`` upload; ``commit`` renames it into place atomically. The store never
counts references itself: the caller commits under ``lock()`` in the same
critical section as the database transaction that records the location, and
``discard_if_unused`` checks the database under the same lock before unlinking,
so a blob shared by two images is never removed while one still needs it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
HASH_ALGO = "sha512"


class TooLarge(Exception):
    """The stream went past the size cap."""


@dataclass(frozen=True)
class Staged:
    """Bytes received and hashed, not yet in place."""
    temp: Path
    location: str
    size: int
    checksum: str  # md5, hex
    os_hash_value: str  # sha512, hex


class ImageStore(ABC):
    @abstractmethod
    def put(self, chunks: Iterable[bytes], max_size: int | None = None) -> Staged: ...

    @abstractmethod
    def commit(self, staged: Staged) -> None:
        """Move staged bytes into place (call under ``lock()``)."""

    @abstractmethod
    def abort(self, staged: Staged) -> None: ...

    @abstractmethod
    def path(self, location: str) -> Path: ...

    @abstractmethod
    def open(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes at ``location``; the file is opened before this returns, so a concurrent delete
        cannot cut a download short."""

    @abstractmethod
    def lock(self): ...

    @abstractmethod
    def discard_if_unused(self, location: str, in_use: Callable[[str], bool]) -> bool: ...

    @abstractmethod
    def sweep(self, in_use: Callable[[], set[str]]) -> int: ...


class FilesystemStore(ImageStore):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.Lock()
        self._lock_file = self.root / ".lock"

    # -- writing
    def put(self, chunks: Iterable[bytes], max_size: int | None = None) -> Staged:
        md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha512()
        size = 0
        fd = -1
        temp = None
        try:
            fd, name = _mkstemp(self.tmp)
            temp = Path(name)
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise TooLarge(f"Image exceeds the storage limit of {max_size} bytes.")
                    md5.update(chunk)
                    sha.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            if temp is not None:
                temp.unlink(missing_ok=True)
            raise
        digest = sha.hexdigest()
        return Staged(temp=temp, location=digest, size=size, checksum=md5.hexdigest(), os_hash_value=digest)

    def commit(self, staged: Staged) -> None:
        final = self.path(staged.location)
        final.parent.mkdir(exist_ok=True)
        if final.exists():  # the same bytes are already kept: de-duplicated
            staged.temp.unlink(missing_ok=True)
            return
        os.chmod(staged.temp, 0o444)
        os.replace(staged.temp, final)
        _fsync_dir(final.parent)

    def abort(self, staged: Staged) -> None:
        staged.temp.unlink(missing_ok=True)

    # -- reading
    def path(self, location: str) -> Path:
        if len(location) != 128 or not all(c in "0123456789abcdef" for c in location):
            raise ValueError(f"not a location of this store: {location!r}")
        return self.root / location[:2] / location

    def open(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        fh = self.path(location).open("rb")
        fh.seek(offset)
        return _read(fh, length)

    # -- removing
    @contextlib.contextmanager
    def lock(self):
        """Serialises commits and discards, across threads and processes sharing the directory."""
        with self._thread_lock, self._lock_file.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def discard_if_unused(self, location: str, in_use: Callable[[str], bool]) -> bool:
        """Unlink the blob unless ``in_use(location)`` (a fresh database read) says an image holds it."""
        with self.lock():
            if in_use(location):
                return False
            blob = self.path(location)
            blob.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                blob.parent.rmdir()  # only when empty
            return True

    def sweep(self, in_use: Callable[[], set[str]]) -> int:
        """Remove leftovers of a crash: temporary files and blobs no image refers to."""
        removed = 0
        with self.lock():
            for temp in self.tmp.iterdir():
                temp.unlink(missing_ok=True)
                removed += 1
            used = in_use()
            for blob in self.root.glob("??/*"):
                if blob.name not in used:
                    blob.unlink(missing_ok=True)
                    removed += 1
            for folder in self.root.glob("??"):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
        return removed


def _mkstemp(directory: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(dir=directory, prefix="upload-")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(fh, length: int | None) -> Iterator[bytes]:
    with fh:
        left = length
        while left is None or left > 0:
            chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


_stores: dict[Path, ImageStore] = {}
_stores_lock = threading.Lock()


def for_cloud(cloud) -> ImageStore:
    """The store of a cloud's data directory (one per directory and process)."""
    root = (Path(cloud.settings.data_dir) / "images").resolve()
    with _stores_lock:
        if root not in _stores:
            _stores[root] = FilesystemStore(root)
        return _stores[root]
