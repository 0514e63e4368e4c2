"""Waiting for a new instance's ports to be plugged, as Nova waits for ``network-vif-plugged``.

A build spawns the instance, then goes ACTIVE only once the network agent has plugged its ports
into the instance's namespace (ports administratively up show ACTIVE). The wait must not hold a
worker thread: the agent's passes run on the same pool, so builds blocking every thread would
starve the very pass they wait for. The build's handler hands the server to one ``Waiter`` thread
instead, which checks every waiting server in one query per interval and, once a server's ports are
plugged (or after ``vif_plugging_timeout`` seconds, a setting: then, as with Nova's
``vif_plugging_is_fatal = False``, the build goes ACTIVE with a warning), sends the server to the
worker again; spawning is idempotent, so that pass only finishes. A timeout of 0 does not wait.
"""

from __future__ import annotations

import logging
import threading
import time

from kumo.compute import network

log = logging.getLogger("kumo.compute")

INTERVAL = 0.02


class Waiter:
    def __init__(self, cloud, submit):
        self.cloud, self.submit = cloud, submit
        self.timeout = float(cloud.settings.vif_plugging_timeout)
        self._deadlines: dict[str, float] = {}
        self._released: set[str] = set()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

    def ready(self, server_id: str) -> bool:
        """Whether the build of ``server_id`` may finish now; if not, it is watched and sent back to the
        worker once it may."""
        if self.timeout <= 0:
            return True
        with self._lock:
            if server_id in self._released:
                self._released.discard(server_id)
                self._deadlines.pop(server_id, None)
                return True
        with self.cloud.db.session(write=False) as db:
            if network.plugged_servers(db, [server_id]):
                return True
        network.wake_agent(self.cloud)  # its namespace exists now: no need to wait for the agent's tick
        with self._lock:
            self._deadlines.setdefault(server_id, time.monotonic() + self.timeout)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kumo-compute-vif-wait", daemon=True)
                self._thread.start()
            self._lock.notify()
        return False

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._deadlines.pop(server_id, None)
            self._released.discard(server_id)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._deadlines:
                    self._lock.wait()
                waiting = dict(self._deadlines)
            try:
                with self.cloud.db.session(write=False) as db:
                    done = network.plugged_servers(db, list(waiting))
            except Exception:  # noqa: BLE001 — never let the waiter die; try again next interval
                log.exception("checking plugged ports")
                done = set()
            now = time.monotonic()
            for server_id, deadline in waiting.items():
                if server_id in done or now > deadline:
                    if server_id not in done:
                        log.warning("server %s: ports not plugged after %.0f s; going ACTIVE anyway",
                                    server_id, self.timeout)
                    else:
                        log.debug("server %s: ports plugged after %.1f ms", server_id,
                                  1000 * (now - deadline + self.timeout))
                    with self._lock:
                        self._deadlines.pop(server_id, None)
                        self._released.add(server_id)
                    self.submit(server_id)
            time.sleep(INTERVAL)
