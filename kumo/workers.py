"""The seam between the API and the work it asks for.

The API records intent in the store and, once that transaction has
committed, sends a small message naming what changed: ``("compute.server",
server_id)``. A worker receiving it reads the current state and drives the
backend toward it (level-triggered, idempotent: a message may arrive twice,
or for a resource already deleted). At startup each service re-sends a message
for every resource left in a transitional state, which is how a crash mid-way
is recovered.

Today the queue is in-process (a pool of threads). The same ``submit`` /
``register`` interface is what a broker-backed queue (for example kombu over
RabbitMQ) implements when agents live on other hosts: topics then carry the
host (``compute.<host>``), and nothing above this module changes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

log = logging.getLogger("kumo.workers")

Handler = Callable[[str, dict], None]


class InProcessQueue:
    def __init__(self, threads: int = 8):
        self._handlers: dict[str, Handler] = {}
        self._queue: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"kumo-worker-{i}", daemon=True)
                         for i in range(threads)]
        self._inflight: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._started = False

    def register(self, topic: str, handler: Handler) -> None:
        self._handlers[topic] = handler

    def start(self) -> None:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def submit(self, topic: str, key: str, payload: dict | None = None) -> None:
        """Ask for ``key`` under ``topic`` to be reconciled. Messages for a key already being handled
        are folded into one more pass after it, so one resource is never worked on twice at once."""
        if topic not in self._handlers:
            raise KeyError(f"no worker for topic {topic}")
        with self._lock:
            if (topic, key) in self._inflight:
                self._again.add((topic, key))
                return
            self._inflight.add((topic, key))
        self._queue.put((topic, key, payload or {}, time.monotonic()))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no message is queued or being handled (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._inflight, timeout)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            topic, key, payload, queued = item
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s: %.1f ms queued", topic, key, 1000 * (time.monotonic() - queued))
            try:
                self._handlers[topic](key, payload)
            except Exception:  # a worker must survive any one resource's failure
                log.exception("worker for %s %s failed", topic, key)
            with self._lock:
                if (topic, key) in self._again:
                    self._again.discard((topic, key))
                    self._queue.put((topic, key, payload, time.monotonic()))
                    continue
                self._inflight.discard((topic, key))
                self._idle.notify_all()
