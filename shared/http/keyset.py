"""Keyset pages of a Core query: each sort is an index-backed (key, id) order and the
cursor carries the last row's pair, so deep pages cost the same as the first."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import tuple_

from shared.http.pagination import decode_cursor, encode_cursor
from shared.http.problems import InvalidCursor

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row, Select


@dataclass(frozen=True)
class SortKey:
    column: Any  # the column rows are ordered by, then by id
    descending: bool
    parse: Callable[[Any], Any]  # a cursor's key back into a value of the column's type


def _cursor_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, float) else str(value)  # floats as JSON numbers (-Infinity too)


def keyset_page(conn: Connection, query: Select, sort: str, key: SortKey, id_column: Any, cursor: str | None,
                limit: int) -> tuple[list[Row], str | None]:
    """The page after ``cursor`` (rows with the sort column and ``id`` by name), and the next cursor."""
    if cursor:
        value, last_id = decode_cursor(cursor, sort, [key.parse, uuid.UUID])
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidCursor("the cursor is not one this API issued")
        boundary, after = tuple_(key.column, id_column), tuple_(value, last_id)
        query = query.where(boundary < after if key.descending else boundary > after)
    order = (key.column.desc(), id_column.desc()) if key.descending else (key.column.asc(), id_column.asc())
    rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(sort, [_cursor_value(getattr(last, key.column.key)), str(last.id)])
