"""Looking into a local instance: its console log, a command run inside it, its network namespace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kumo.compute.driver import DriverError
from kumo.compute.drivers.local_state import quote


class ConsoleExec:
    """A mixin of LocalDriver (with ``local_state.InstanceFiles``)."""

    def console_output(self, uuid: str, lines: int | None = None) -> str:
        path = self._dir(uuid) / "console.log"
        if not self._dir(uuid).exists():
            raise DriverError(f"Instance {uuid} could not be found.")
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 1024 * 1024))
                text = fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        if lines is not None:
            text = "".join(text.splitlines(keepends=True)[-lines:]) if lines > 0 else ""
        return text

    def exec(self, uuid: str, argv: list[str], input: str | bytes | None = None, timeout: float = 30,
             text: bool = True, privileged: bool = False) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the instance: all its namespaces, its root, its cgroups, and (unless
        ``privileged``) the same capabilities as the instance's own processes."""
        state, pid = self._running(uuid)
        if not privileged and (self._rt(uuid) / "run" / "capdrop").exists():
            argv = ["/run/kumo/capdrop", "/run/kumo/busybox", "sh", "-c", 'exec "$@"', "sh", *argv]
        join = 'for c in "$@"; do echo 0 > "$c/cgroup.procs"; done; exec nsenter -t "$0" -m -u -i -n -p -r -w -- '
        cgroups = list((state.get("cgroups") or {}).values())
        script = join + " ".join(quote(a) for a in argv)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/kumo", "HOME": "/root",
               "TERM": "dumb"}
        return subprocess.run(["sh", "-c", script, str(pid), *cgroups], input=input, capture_output=True,
                              text=text, timeout=timeout, env=env)

    def netns_path(self, uuid: str) -> Path:
        """The instance's network namespace (a bind mount of its nsfs file), for a network driver."""
        return self._dir(uuid) / "netns"
