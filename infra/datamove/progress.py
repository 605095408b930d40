"""One live view of a copy, however many workers run it: the rows every table has streamed so
far (worker processes send theirs through a queue), in one line on stderr: rewritten in place
on a terminal, a log line every few seconds otherwise; a line per table as it finishes.

    copying: 2/5 tables, 1,234,567 of 2,000,000 rows (62%), 180,000 rows/s, ~4 s left; now works 71%, sales 40%
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from typing import IO, Any


class Board:
    TTY_EVERY, LOG_EVERY = 0.5, 5.0

    def __init__(self, sizes: dict[str, int], out: IO[str] | None = None) -> None:
        self.sizes = sizes
        self.rows = dict.fromkeys(sizes, 0)
        self.done: set[str] = set()
        self._out = out or sys.stderr
        self._tty = self._out.isatty()
        self._lock = threading.Lock()
        self._inbox: Any = None  # a manager's queue, for worker processes
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None

    def add(self, table: str, rows: int) -> None:
        with self._lock:
            if table not in self.done:  # counts still queued when it finished: its total is exact
                self.rows[table] = self.rows.get(table, 0) + rows

    def finished(self, table: str, rows: int, seconds: float) -> None:
        with self._lock:
            self.rows[table] = rows
            self.done.add(table)
        rate = rows / seconds if seconds > 0 else 0.0
        self._print(f"{table:<32} {rows:>12,} rows {rate:>12,.0f} rows/s {seconds:>8.1f} s done", log=True)

    def inbox(self, manager: Any) -> Any:
        """A queue worker processes put (table, rows) on; drained into the board."""
        self._inbox = manager.Queue()
        return self._inbox

    def line(self) -> str:
        with self._lock:
            copied, total = sum(self.rows.values()), sum(self.sizes.values())
            running = [f"{t} {self.rows[t] / self.sizes[t]:.0%}" for t in self.rows
                       if t not in self.done and self.rows[t] and self.sizes.get(t)]
            done = len(self.done)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = copied / elapsed
        left = f", ~{(total - copied) / rate:,.0f} s left" if rate and total > copied else ""
        share = f" ({copied / total:.0%})" if total else ""
        now = f"; now {', '.join(running)}" if running else ""
        return (f"copying: {done}/{len(self.sizes)} tables, {copied:,} of {total:,} rows{share}, "
                f"{rate:,.0f} rows/s{left}{now}")

    def _drain(self) -> None:
        while self._inbox is not None:
            try:
                table, rows = self._inbox.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return
            self.add(table, rows)

    def _print(self, text: str, *, log: bool = False) -> None:
        text = f"\r{text}\033[K" + ("\n" if log else "") if self._tty else text + "\n"
        self._out.write(text)
        self._out.flush()

    def _run(self) -> None:
        every = self.TTY_EVERY if self._tty else self.LOG_EVERY
        while not self._stop.wait(every):
            self._drain()
            self._print(self.line())

    def __enter__(self) -> Board:
        self._thread = threading.Thread(target=self._run, name="copy-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._drain()
        self._print(self.line(), log=True)
