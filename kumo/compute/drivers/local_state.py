"""What the local driver knows about an instance, and the helpers every part of it shares.

Each instance has a directory, ``<data_dir>/instances/<uuid>/``, whose ``state.json`` is the driver's
whole memory of it (init pid and start time, cgroup paths, the lower layer, devices, loop devices it
set up), and a runtime dir on the runtime tmpfs, ``<data_dir>/runtime/<uuid>/``. ``InstanceFiles``
reads and writes them; the other parts of ``LocalDriver`` (``local_boot``, ``local_power``,
``local_devices``, ``local_console``) build on it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import subprocess
import threading
from pathlib import Path

from kumo.compute.driver import DriverError
from kumo.compute.drivers import local_host as host

log = logging.getLogger("kumo.compute")
VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def driver_errors(method):
    """Whatever the host refuses (a mount, a write to a cgroup, a command) becomes a DriverError: the
    server's fault message, never a worker's traceback."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DriverError:
            raise
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            raise DriverError(f"{method.__name__} failed: {exc}") from exc
    return wrapper


def quote(arg: str) -> str:
    """``arg`` quoted for ``sh``."""
    return "'" + str(arg).replace("'", "'\"'\"'") + "'"


class InstanceFiles:
    """An instance's directories, its state file, its lock and its live init (a mixin of LocalDriver:
    ``self.root``, ``self.runtime``, ``self._guard`` and ``self._locks`` are the driver's)."""

    def _dir(self, uuid: str) -> Path:
        if not uuid or not VALID_ID.match(uuid):
            raise DriverError(f"invalid instance id {uuid!r}")
        return self.root / uuid

    def _rt(self, uuid: str) -> Path:
        return self.runtime / self._dir(uuid).name

    def _lock(self, uuid: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(uuid, threading.RLock())

    def _read(self, uuid: str) -> dict | None:
        try:
            return json.loads((self._dir(uuid) / "state.json").read_text())
        except (OSError, ValueError):
            return None

    def _state(self, uuid: str) -> dict:
        state = self._read(uuid)
        if state is None:
            raise DriverError(f"Instance {uuid} could not be found.")
        return state

    def _save(self, uuid: str, state: dict) -> None:
        path = self._dir(uuid)
        tmp = path / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path / "state.json")

    def _pid(self, state: dict | None) -> int | None:
        """The instance's init, if it is alive (checked against its start time: pids get reused)."""
        if not state or not state.get("pid"):
            return None
        found = host.proc_stat(state["pid"])
        if found is None or found[0] in "ZX" or found[1] != state.get("start"):
            return None
        return state["pid"]

    def _log(self, uuid: str, line: str) -> None:
        with open(self._dir(uuid) / "console.log", "a") as fh:
            fh.write(f"[kumo] {line}\n")
