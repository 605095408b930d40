import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.errors import InvalidCursor
from shared.paging import decode_cursor, encode_cursor, id_keyset_page

PARSERS = [datetime.fromisoformat, uuid.UUID]


def test_round_trip():
    when, ident = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor("newest", [when.isoformat(), str(ident)])
    assert decode_cursor(cursor, "newest", PARSERS) == [when, ident]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "",
        base64.urlsafe_b64encode(b"{not json").decode(),
        base64.urlsafe_b64encode(json.dumps(["newest", "yesterday", "x"]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["newest"]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"a": 1}).encode()).decode(),
        "' OR 1=1 --",
        # Values of the wrong JSON type: a number for an id (uuid.UUID(5) is an AttributeError).
        base64.urlsafe_b64encode(json.dumps(["newest", "2026-01-01T00:00:00+00:00", 5]).encode()).decode(),
    ],
)
def test_garbage_is_rejected(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "newest", PARSERS)


def test_cursor_of_another_sort_is_rejected():
    cursor = encode_cursor("most_funded", ["5", str(uuid.uuid4())])
    with pytest.raises(InvalidCursor, match="another query"):
        decode_cursor(cursor, "newest", PARSERS)


def test_an_infinite_number_is_rejected():
    """JSON's Infinity reaches an int parser as float('inf'): OverflowError, not a 500."""
    cursor = base64.urlsafe_b64encode(b'["my-bids",Infinity]').decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "my-bids", [int])


@pytest.mark.parametrize("last_id", [10**20, 2**63, 0, -1, True, "5", 1.5, None])
def test_an_identity_cursor_holds_a_bigint_id_only(last_id):
    """Refused before any query (no connection here): the caller's mistake, a 400, never the database's error."""
    with pytest.raises(InvalidCursor):
        id_keyset_page(None, None, "bids", None, encode_cursor("bids", [last_id]), 20)
