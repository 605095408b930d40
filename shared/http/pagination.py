"""Keyset (cursor) pagination: the cursor carries the sort key of the last row seen.

Cursors are opaque to clients (base64url JSON) but validated strictly on the way
in: a tampered or foreign cursor is a 400, never a 500 or a wrong page.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from shared.http.problems import InvalidCursor
from shared.types import ApiModel

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
    except (TypeError, ValueError):
        raise InvalidCursor("the cursor is not one this API issued") from None
