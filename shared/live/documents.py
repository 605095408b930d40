"""The live documents and how they are kept fresh.

- ``auctions/{auction id}``, readable by anyone (firestore.rules): status, current price,
  currency, bid count, end, outcome; never a bidder (bidders stay private until the close).
- ``inbox/{Firebase uid}``, readable by that account alone: the unread count.

Each write carries ``as_of``, the database's clock (microseconds) when its values were read, and
a write older than the document's is dropped: deliveries out of order, or two instances
racing, never move a document back. The read-compare-write is made safe by Firestore's own
precondition (the document's update time), retried a few times under contention.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, text

from shared.live.firestore import Firestore, FirestoreUnavailable, PreconditionFailed, Value
from shared.notifications.kinds import READ

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.events.envelope import EventEnvelope

ATTEMPTS = 5
# The events after which an auction's document is read again (its state is the row's, now).
AUCTION_EVENTS = frozenset({"auction.created", "auction.bid_placed", "auction.ending_soon", "auction.closed",
                            "auction.cancelled", "auction.payment_failed"})
# Every event after which a document is read again: an auction's, or the reader's unread count.
EVENTS = AUCTION_EVENTS | {READ}
_CLOCK = "(extract(epoch from clock_timestamp()) * 1000000)::bigint AS as_of"
_AUCTION = text(f"""
    SELECT status, current_price, currency, bid_count, ends_at, outcome, {_CLOCK}
    FROM auctions WHERE id = :id
""")
_INBOXES = text(f"""
    SELECT u.firebase_uid,
           (SELECT count(*) FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL) AS unread, {_CLOCK}
    FROM users u WHERE u.id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND u.firebase_uid IS NOT NULL
""")


def put_newer(store: Firestore, path: str, fields: dict[str, Value], as_of: int) -> bool:
    """Write the document unless it holds a reading as new or newer; whether it was written."""
    for _ in range(ATTEMPTS):
        current = store.get(path)
        if current is not None and int(current.fields.get("as_of") or 0) >= as_of:
            return False
        try:
            store.write(path, {**fields, "as_of": as_of}, after=current)
            return True
        except PreconditionFailed:
            continue
    raise FirestoreUnavailable(f"{path} kept changing under {ATTEMPTS} attempts")


@dataclass(frozen=True)
class Reading:
    """A document's values as the database has them now, and when they were read."""
    path: str
    fields: dict[str, Value]
    as_of: int


def auction_reading(conn: Connection, auction_id: uuid.UUID) -> Reading | None:
    row = conn.execute(_AUCTION, {"id": auction_id}).one_or_none()
    if row is None:
        return None
    return Reading(f"auctions/{auction_id}", {
        "status": row.status, "current_price": None if row.current_price is None else str(int(row.current_price)),
        "currency": row.currency, "bid_count": row.bid_count, "ends_at": row.ends_at.isoformat(),
        "outcome": row.outcome}, row.as_of)


def inbox_readings(conn: Connection, user_ids: Iterable[uuid.UUID]) -> list[Reading]:
    ids = ",".join(str(user_id) for user_id in user_ids)
    if not ids:
        return []
    return [Reading(f"inbox/{row.firebase_uid}", {"unread": row.unread}, row.as_of)
            for row in conn.execute(_INBOXES, {"ids": ids})]


def refresh(envelope: EventEnvelope, store: Firestore) -> int:
    """After an event: its auction's document, and the unread counts of those it notified (or
    of the person who read some).
    Read in one short transaction, written after it: no connection waits on Firestore."""
    from shared.db import work
    from shared.notifications.tables import notifications

    with work() as unit:
        conn = unit.connection
        readings = [found for found in [auction_reading(conn, uuid.UUID(envelope.aggregate_id))]
                    if found] if envelope.type in AUCTION_EVENTS else []
        recipients = set(conn.execute(select(notifications.c.user_id)
                                      .where(notifications.c.event_id == envelope.event_id)).scalars())
        if envelope.type == READ:
            recipients.add(uuid.UUID(envelope.aggregate_id))
        readings += inbox_readings(conn, recipients)
    return sum(put_newer(store, reading.path, reading.fields, reading.as_of) for reading in readings)
