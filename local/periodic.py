"""A daemon thread that runs a step now and then every interval until stopped."""
from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # the next step tries again: a local stand-in must not stop the stack
                logger.exception("%s failed", self._thread.name)
            if self._stop.wait(self._interval):
                return
