"""A warm pool of instance shells for the local driver: what a boot would make anyway, made ahead of it.

A shell is a busybox ``sh`` already in fresh uts, ipc and network namespaces and in cgroups of its own
(``pool-<hex>`` under the data dir's parents, device allow-list set), with a runtime dir holding its
``/dev``, waiting on its stdin. A first boot takes one (``take``): the driver renames its cgroups and
runtime dir to the instance's uuid (cgroup v1 renames a group in place, so the shell stays in it), binds
its network namespace at ``<instance>/netns``, sets the flavor's limits and writes the boot command line;
the shell then execs ``unshare`` for the pid, mount and time namespaces and the same setup script as a
cold boot (without joining cgroups: it is in them). Creating namespaces and moving a process into seven
cgroup hierarchies (each a wait for an RCU grace period) is thus off the request path.

One thread keeps ``size`` shells ready, refilling only in pauses between first boots (``QUIET``), so in
a burst a refill seldom competes with the boots for the CPU. Shells are found by their cgroups, so whatever
a crash leaves is an orphan group to the next driver (killed and removed with its processes,
its runtime dir too), and ``kumo reset`` removes them like any instance's; ``stop`` kills the pool's
shells when Kumo stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("kumo.compute")

PREFIX = "pool-"
RAM_MB = 64  # the shell's memory limit until a boot sets the flavor's
READY_TIMEOUT = 10.0
QUIET = 0.1  # refill once no boot has come for this long: during a burst a refill would only compete with it

# $@: the cgroup directories to join. Says "ready" once in them, then runs the one line it is sent.
SHELL = r'''
for c in "$@"; do echo 0 > "$c/cgroup.procs"; done
echo ready
read -r line || exit 0
eval "exec $line"
'''


@dataclass
class Shell:
    name: str
    proc: subprocess.Popen
    cgroups: dict[str, str]


class Pool:
    def __init__(self, driver, size: int):
        self.driver, self.size = driver, size
        self._ready: deque[Shell] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._last_take = 0.0
        self._thread = threading.Thread(target=self._run, name="kumo-compute-warm-pool", daemon=True)
        self._thread.start()

    def take(self) -> Shell | None:
        with self._cond:
            self._last_take = time.monotonic()
            while self._ready:
                shell = self._ready.popleft()
                self._cond.notify()
                if shell.proc.poll() is None:
                    return shell
                _close(shell)
            self._cond.notify()
        return None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            shells = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for shell in shells:
            self.driver.discard_shell(shell)

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._stopped and (len(self._ready) >= self.size
                                             or time.monotonic() - self._last_take < QUIET):
                    busy = len(self._ready) < self.size
                    self._cond.wait(QUIET if busy else None)
                if self._stopped:
                    return
            try:
                shell = self.driver.make_shell(PREFIX + uuidlib.uuid4().hex[:12])
                failures = 0
            except Exception as exc:  # noqa: BLE001 — boots go cold meanwhile; try again later
                failures += 1
                log.warning("warm pool: could not make an instance shell: %s", exc)
                with self._cond:
                    self._cond.wait(min(60, 2 ** failures))
                continue
            with self._cond:
                keep = not self._stopped
                if keep:
                    self._ready.append(shell)
            if not keep:
                self.driver.discard_shell(shell)


def start_shell(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)


def send(shell: Shell, line: str) -> None:
    """Give the shell its boot command line; it execs it at once."""
    try:
        shell.proc.stdin.write(line.encode() + b"\n")
        shell.proc.stdin.flush()
    finally:
        shell.proc.stdin.close()


def kill(shell: Shell) -> None:
    try:
        os.kill(shell.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        shell.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _close(shell)


def _close(shell: Shell) -> None:
    for pipe in (shell.proc.stdin, shell.proc.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


def rename_cgroups(cgroups: dict[str, str], name: str) -> dict[str, str]:
    """Rename the shell's groups to ``name`` (in place: its processes stay in them)."""
    renamed = {}
    for controller, path in cgroups.items():
        target = Path(path).with_name(name)
        os.rename(path, target)
        renamed[controller] = str(target)
    return renamed
