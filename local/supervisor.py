"""Keeps the local stack's function processes running, as Cloud Run keeps instances.

A function process that exits (crashed, killed) is started again after a backoff that
doubles from 1 s to 30 s and resets once it has stayed up for a minute; each restart is
reported on the stack's output. The state of every process (port, pid, restarts, last exit)
is written to ``status.json`` in the stack's state directory, which ``python -m local.status``
prints.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local.processes import Child

FIRST_BACKOFF, MAX_BACKOFF, STABLE_AFTER = 1.0, 30.0, 60.0


@dataclass
class Supervised:
    name: str
    port: int
    start: Callable[[], Child]
    child: Child
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    last_exit: int | None = None
    restart_at: float | None = None
    backoff: float = FIRST_BACKOFF

    def status(self) -> dict:
        running = self.child.process.poll() is None
        return {"name": self.name, "port": self.port, "pid": self.child.process.pid if running else None,
                "state": "running" if running else "restarting", "restarts": self.restarts, "last_exit": self.last_exit}


class Supervisor:
    def __init__(self, status_path: Path, report: Callable[[str], None] = print, interval: float = 0.25) -> None:
        self._status_path = status_path
        self._report = report
        self._interval = interval
        self._processes: dict[str, Supervised] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def add(self, name: str, port: int, start: Callable[[], Child]) -> Child:
        child = start()
        with self._lock:
            self._processes[name] = Supervised(name, port, start, child)
        return child

    def children(self) -> dict[str, Child]:
        with self._lock:
            return {name: process.child for name, process in self._processes.items()}

    def status(self) -> list[dict]:
        with self._lock:
            return [process.status() for process in self._processes.values()]

    def start(self) -> None:
        self._write_status()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        for child in self.children().values():
            child.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            changed = False
            with self._lock:
                for process in self._processes.values():
                    changed |= self._check(process)
            if changed:
                self._write_status()

    def _check(self, process: Supervised) -> bool:
        now = time.monotonic()
        code = process.child.process.poll()
        if code is None:
            if now - process.started_at > STABLE_AFTER:
                process.backoff = FIRST_BACKOFF
            return False
        if process.restart_at is None:  # just exited
            process.last_exit = code
            process.restart_at = now + process.backoff
            self._report(f"{process.name} exited with {code}; restarting in {process.backoff:.0f} s")
            return True
        if now < process.restart_at:
            return False
        try:
            process.child = process.start()
        except Exception as error:  # keep supervising: try again after the next backoff
            self._report(f"{process.name} could not be restarted: {error}")
        else:
            process.restarts += 1
            self._report(f"{process.name} restarted (restart {process.restarts}, pid {process.child.process.pid})")
        process.started_at, process.restart_at = now, None
        process.backoff = min(process.backoff * 2, MAX_BACKOFF)
        return True

    def _write_status(self) -> None:
        temporary = self._status_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"updated": time.time(), "functions": self.status()}, indent=2))
        temporary.replace(self._status_path)
