"""Cloud Scheduler's local stand-in: publishes a tick to every scheduled function's topic.

Every schedule is treated as once a minute (what all of ours are today) plus one tick
at start, so a fresh stack sweeps at once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from shared.manifest import Manifest

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, publish: Callable[[str, bytes], None], manifest: Manifest, interval: float = 60.0) -> None:
        self._publish = publish
        self._topics = sorted({f.topic for f in manifest.event_functions() if f.schedule})
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def tick(self, topic: str) -> None:
        """An extra tick now (the demo seed wants its fundings indexed without waiting)."""
        self._publish(topic, b"{}")

    def _run(self) -> None:
        while True:
            for topic in self._topics:
                try:
                    self._publish(topic, b"{}")
                except Exception:
                    logger.exception("scheduler tick to %s failed", topic)
            if self._stop.wait(self._interval):
                return
