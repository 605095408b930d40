"""COPY TO STDOUT on one connection piped into COPY FROM STDIN on another; rows read through
a server-side cursor.

pg8000 writes a COPY's output to a file-like object and reads a COPY's input from an
iterable; a thread runs the reading side into a bounded queue that the writing side
drains, so a table of any size passes through a few megabytes of memory.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy import Connection

QUEUE_FRAMES = 16
FETCH_ROWS = 10_000
_END = object()


def cursor_rows(conn: Connection, sql: str, name: str = "datamove_rows") -> Iterator[Any]:
    """Every row of ``sql`` through a server-side cursor (inside the connection's transaction):
    memory holds one batch of FETCH_ROWS."""
    conn.execute(text(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}"))
    while batch := conn.execute(text(f"FETCH {FETCH_ROWS} FROM {name}")).all():
        yield from batch
    conn.execute(text(f"CLOSE {name}"))


class _QueueWriter:
    """What pg8000's COPY TO writes into: batches the output into ~1 MiB frames."""

    FRAME = 1 << 20

    def __init__(self, frames: queue.Queue) -> None:
        self._frames = frames
        self._buffer = bytearray()
        self.rows = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self.FRAME:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._frames.put(bytes(self._buffer))
            self._buffer.clear()


def copy_out(source: Connection, table: str, columns: list[str], failures: list[BaseException], *,
             format: str = "binary") -> Iterator[bytes]:
    """The frames of ``COPY table (columns) TO STDOUT`` as they come: a thread reads them into a
    bounded queue, so memory stays flat whatever the table's size. The reading side's error
    goes into ``failures`` (for the caller to raise once the writing side has ended its COPY);
    closed early, the generator lets the reader finish into the void."""
    frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)

    def read() -> None:
        cursor = source.connection.dbapi_connection.cursor()
        writer = _QueueWriter(frames)
        try:
            cursor.execute(f"COPY {table} ({', '.join(columns)}) TO STDOUT (FORMAT {format})", stream=writer)
            writer.flush()
        except BaseException as error:
            failures.append(error)
        finally:
            cursor.close()
            frames.put(_END)

    reader = threading.Thread(target=read, name=f"copy-out-{table}", daemon=True)
    reader.start()
    try:
        while (frame := frames.get()) is not _END:
            yield frame
    finally:
        while reader.is_alive():
            try:
                frames.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()


def pipe_copy(source: Connection, target: Connection, table: str, columns: list[str]) -> int:
    """Copy one table in binary COPY format; returns the rows COPY reported."""
    failures: list[BaseException] = []
    frames = copy_out(source, table, columns, failures)
    cursor = target.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)", stream=frames)
        rows = cursor.rowcount
    finally:
        cursor.close()
        frames.close()
    if failures:
        raise failures[0]
    return rows
