"""Cloud Scheduler's local stand-in: publishes a tick to every scheduled function's topic.

Every schedule is treated as once a minute (what all of ours are today) plus one tick
at start, so a fresh stack sweeps at once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from infra.manifest import Manifest
from local.periodic import Periodic

logger = logging.getLogger(__name__)


class Scheduler(Periodic):
    def __init__(self, publish: Callable[[str, bytes], None], manifest: Manifest, interval: float = 60.0) -> None:
        super().__init__("scheduler", interval)
        self._publish = publish
        self._topics = sorted({f.topic for f in manifest.event_functions() if f.schedule})

    def tick(self, topic: str) -> None:
        """An extra tick now (the demo seed wants its fundings indexed without waiting)."""
        self._publish(topic, b"{}")

    def step(self) -> None:
        for topic in self._topics:
            try:
                self._publish(topic, b"{}")
            except Exception:  # one topic's failure does not keep the others from their tick
                logger.exception("scheduler tick to %s failed", topic)
