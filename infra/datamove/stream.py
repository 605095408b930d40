"""COPY TO STDOUT on one connection piped into COPY FROM STDIN on another; rows read through
a server-side cursor.

pg8000 writes a COPY's output to a file-like object and reads a COPY's input from an
iterable; a thread runs the reading side into a bounded queue that the writing side
drains, so a table of any size passes through a few megabytes of memory.

The server sends a COPY's output as one CopyData message a row, and pg8000 reads each one
through two copies and a dispatch: 3.5 µs a row, seven times the server's own time to
write it. ``_QueueWriter`` takes the messages that follow straight from the connection's
read buffer instead (decision 0038).
"""
from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
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


_COPY_DATA = b"d"[0]
_HEADER = struct.Struct("!cI")  # a message's type and its length, the length's own 4 bytes included


class _QueueWriter:
    """What pg8000's COPY TO writes into: batches the output into ~1 MiB frames. Given the
    connection's buffered socket, each write also takes every whole CopyData message already
    in its read buffer, so pg8000 reads one message a buffer (8 KiB) rather than one a row.
    It leaves anything else there (CopyDone, an error, a message not yet whole) for pg8000 to
    read as it would have."""

    FRAME = 1 << 20

    def __init__(self, frames: queue.Queue, sock: Any = None) -> None:
        self._frames = frames
        self._buffer = bytearray()
        self._peek = getattr(sock, "peek", None)
        self._sock = sock

    def write(self, data: bytes) -> None:
        self._buffer += data
        if self._peek is not None:
            self._take_buffered()
        if len(self._buffer) >= self.FRAME:
            self.flush()

    def _take_buffered(self) -> None:
        while True:
            # peek reads from the socket only when its buffer is empty: after a CopyData message
            # the server always sends more (at least CopyDone), so this never waits for nothing.
            buffered = self._peek(1)
            end, size = 0, len(buffered)
            while end + 5 <= size and buffered[end] == _COPY_DATA:
                length = _HEADER.unpack_from(buffered, end)[1]
                if end + 1 + length > size:
                    break
                self._buffer += buffered[end + 5:end + 1 + length]
                end += 1 + length
            if not end:
                return
            self._sock.read(end)
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
        driver = source.connection.dbapi_connection
        cursor = driver.cursor()
        writer = _QueueWriter(frames, getattr(driver, "_sock", None))
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


def offer(into: queue.Queue, item: object, alive: Callable[[], bool]) -> bool:
    """``item`` into a bounded queue whose reader may stop: False once ``alive()`` says it has."""
    while alive():
        try:
            into.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def copy_in(conn: Connection, table: str, columns: Sequence[str], chunks: Iterable[bytes], *,
            with_options: str = "") -> int:
    """``COPY table (columns) FROM STDIN`` of ``chunks``, sent by a thread while this one makes
    the next: pg8000 waits for the server to take each chunk, so making and parsing would
    otherwise take turns. A failure while making ends the COPY with the rows sent so far and
    is raised here: the caller must roll its transaction back, which undoes them. The server's
    is raised once all is sent (chained to a failure while making, when both happened). The
    rows the server took."""
    from shared.bulk import copy_stream

    sent: queue.Queue = queue.Queue(maxsize=2)
    failures: list[BaseException] = []
    taken: list[int] = []

    def received() -> Iterator[bytes]:
        while (chunk := sent.get()) is not _END:
            yield chunk

    def send() -> None:
        try:
            taken.append(copy_stream(conn, table, columns, received(), with_options=with_options))
        except BaseException as error:
            failures.append(error)

    sender = threading.Thread(target=send, name=f"copy-in-{table}", daemon=True)
    sender.start()

    def hand_over(item: object) -> bool:
        return offer(sent, item, sender.is_alive)

    try:
        for chunk in chunks:
            if not hand_over(chunk):
                break
    except BaseException as making:
        hand_over(_END)
        sender.join()
        if failures:
            raise failures[0] from making
        raise
    hand_over(_END)
    sender.join()
    if failures:
        raise failures[0]
    return taken[0]
