"""Bulk writes into PostgreSQL with COPY over pg8000 (STANDINS.md: ~120k rows/s, where
executemany manages a few thousand)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

# pg8000 sends each item of the stream as one CopyData frame; 1 MiB frames let the
# server parse while the rest arrives (frames need not end at line ends).
COPY_FRAME = 1 << 20


def copy_rows(conn: Connection, table: str, columns: Sequence[str], data: bytes) -> None:
    """COPY text-format ``data`` (tab-separated lines, backslashes escaped) into ``table``."""
    view = memoryview(data)
    copy_stream(conn, table, columns, (view[start:start + COPY_FRAME] for start in range(0, len(view), COPY_FRAME)))


def copy_stream(conn: Connection, table: str, columns: Sequence[str], frames: Iterable[bytes | memoryview],
                with_options: str = "") -> int:
    """COPY text-format frames as they are produced: memory holds one frame at a time. The rows
    the server took."""
    cursor = conn.connection.dbapi_connection.cursor()
    suffix = f" WITH ({with_options})" if with_options else ""
    try:
        cursor.execute(f"COPY {table} ({', '.join(columns)}) FROM STDIN{suffix}", stream=frames)
        return cursor.rowcount
    finally:
        cursor.close()


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a pg8000 error (or of the driver error a SQLAlchemy one wraps)."""
    error = getattr(error, "orig", None) or error
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return details.get("C")


def is_unique_violation(error: Exception) -> bool:
    return sqlstate(error) == "23505"
