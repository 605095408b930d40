"""Keyset (cursor) pagination: the cursor carries the sort key of the last row seen.

Each sort is an index-backed (key, id) order and the cursor carries the last row's pair,
so deep pages cost the same as the first; a log in the order of its bigint identity alone pages
by that id (id_keyset_page). Cursors are opaque to clients (base64url JSON) but validated strictly on the way
in: a tampered or foreign cursor is a 400, never a 500 or a wrong page.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field
from sqlalchemy import tuple_

from shared.errors import InvalidCursor
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row, Select

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class PageQuery(ApiModel):
    """The query of a list with no filters: a cursor and a page size."""

    model_config = ConfigDict(extra="forbid")

    cursor: Annotated[str, Field(max_length=512)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


def encode_cursor(kind: str, values: Sequence[Any]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str, parsers: Sequence[Callable[[Any], Any]]) -> list[Any]:
    """Decode a cursor made for ``kind``; each value is checked by its parser."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor("the cursor is not one this API issued") from None
    if not isinstance(data, list) or len(data) != len(parsers) + 1 or data[0] != kind:
        raise InvalidCursor("the cursor belongs to another query or sort order")
    try:
        return [parse(value) for parse, value in zip(parsers, data[1:], strict=True)]
    except (TypeError, ValueError, AttributeError, OverflowError):  # uuid.UUID(5), int(inf)
        raise InvalidCursor("the cursor is not one this API issued") from None


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


def _bigint_id(value: Any) -> int:
    # A JSON integer an identity column could hold: int() would take "5", 1.5 or true, and a
    # value past bigint would reach the database as an error of ours, not the caller's.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise ValueError("not an identity")
    return value


def id_keyset_page(conn: Connection, query: Select, sort: str, id_column: Any, cursor: str | None, limit: int,
                   *, descending: bool = True) -> tuple[list[Row], str | None]:
    """keyset_page for rows in the order of a bigint identity alone (an append-only log's own
    order): the cursor carries the last row's id."""
    if cursor:
        (last_id,) = decode_cursor(cursor, sort, [_bigint_id])
        query = query.where(id_column < last_id if descending else id_column > last_id)
    rows = conn.execute(query.order_by(id_column.desc() if descending else id_column.asc()).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(sort, [getattr(rows[limit - 1], id_column.key)])
