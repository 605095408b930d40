"""The transactional outbox: domain events are written with the change that caused them.

``emit`` adds the event to ``outbox`` in the caller's transaction, so the event exists if
and only if the change does. Once that transaction commits, the fast path publishes it
(``publish_after_commit``, registered with ``shared.db.after_commit``); whatever the fast
path could not publish, the slow path (``relay``, the outbox-relay function) publishes later.

The slow path claims rows with FOR UPDATE SKIP LOCKED, so overlapping sweeps never publish the
same batch twice; rows younger than ``min_age`` are left to the fast path that is
probably publishing them right now. A publish failure is recorded on the rows and
raised, so the sweep fails visibly and the next one retries.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from shared.db import after_commit, get_engine
from shared.events import pubsub
from shared.events.envelope import EventEnvelope
from shared.events.topics import DOMAIN_EVENTS
from shared.tables import outbox

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# The fast path runs inside the client's request, after its commit: the event is safe in
# the outbox already, so the request waits at most this long for Pub/Sub, then leaves the
# event to the relay. A same-region publish takes a few tens of milliseconds.
FAST_PATH_TIMEOUT = 0.1
# An instance's first publish also opens the client's channel (connection, TLS, a token):
# it may take this long, once.
FIRST_PUBLISH_TIMEOUT = 2.0
_publisher_warm = False
# After a failed fast path, requests skip it this long: while Pub/Sub is unreachable no
# request pays the budget again (the relay publishes what waits meanwhile).
FAST_PATH_PAUSE = 30.0
_fast_path_paused_until = 0.0
# This module's own entry in Session.info: the events a transaction has emitted so far.
_PENDING = "shared.events.outbox:pending"


def emit(session: Session, type: str, aggregate_type: str, aggregate_id: Any, payload: dict[str, Any],
         *, topic: str = DOMAIN_EVENTS) -> EventEnvelope:
    """Record an event in the caller's transaction; it is published once that transaction commits."""
    from shared.models import OutboxEntry  # writers have the ORM loaded; consumers that only parse do not

    envelope = EventEnvelope(event_id=uuid.uuid4(), type=type, occurred_at=datetime.now(UTC),
                             aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload)
    session.add(OutboxEntry(event_id=envelope.event_id, topic=topic, type=type, occurred_at=envelope.occurred_at,
                            envelope=envelope.model_dump(mode="json")))
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        after_commit(session, lambda: publish_after_commit(pending))
    pending.append((topic, envelope))
    return envelope


def record(conn: Connection, type: str, aggregate_type: str, aggregate_id: Any, payload: dict[str, Any],
           *, topic: str = DOMAIN_EVENTS) -> EventEnvelope:
    """``emit`` for writers on a plain connection (the chain indexer): the event is written in
    the connection's transaction and left to whoever relays next (no fast path: the writer
    relays at the end of its run, shared/chain/indexer.py)."""

    envelope = EventEnvelope(event_id=uuid.uuid4(), type=type, occurred_at=datetime.now(UTC),
                             aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload)
    conn.execute(insert(outbox).values(event_id=envelope.event_id, topic=topic, type=type,
                                       occurred_at=envelope.occurred_at, envelope=envelope.model_dump(mode="json")))
    return envelope


def resume_fast_path() -> None:
    """End a pause of the fast path now (tests; an instance that knows Pub/Sub is back)."""
    global _fast_path_paused_until
    _fast_path_paused_until = 0.0


def publish_after_commit(pending: list[tuple[str, EventEnvelope]]) -> None:
    """The fast path: publish what one transaction emitted and mark it published.

    A failure here loses nothing: the rows stay unpublished and the outbox-relay
    publishes them on its next sweep, so it is logged, not raised to the client
    whose change has already committed.
    """
    global _fast_path_paused_until, _publisher_warm
    if time.monotonic() < _fast_path_paused_until:
        return
    try:
        pubsub.get_publisher().publish_many(pending, timeout=FAST_PATH_TIMEOUT if _publisher_warm else
                                            FIRST_PUBLISH_TIMEOUT)
        _publisher_warm = True
    except Exception:
        _fast_path_paused_until = time.monotonic() + FAST_PATH_PAUSE
        logger.warning("fast-path publish failed; the outbox relay will publish these events (fast path paused "
                       "for %.0f s)", FAST_PATH_PAUSE, exc_info=True,
                       extra={"event_id": ",".join(str(e.event_id) for _, e in pending)})
        return
    try:
        mark_published([envelope.event_id for _, envelope in pending])
    except Exception:  # published, not marked: the relay publishes them again, consumers de-duplicate
        logger.warning("published events could not be marked", exc_info=True,
                       extra={"event_id": ",".join(str(e.event_id) for _, e in pending)})


def mark_published(event_ids: Sequence[uuid.UUID]) -> None:
    with get_engine().begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.event_id.in_(event_ids), outbox.c.published_at.is_(None))
            .values(published_at=datetime.now(UTC), publish_attempts=outbox.c.publish_attempts + 1)
        )


def relay(publisher_factory: Callable[[], pubsub.Publisher], *, batch_size: int = 500,
          min_age: timedelta = timedelta(seconds=10), budget_seconds: float = 45.0) -> int:
    """Publish unpublished rows in batches until none are left or the budget is spent.

    The publisher is made only when there is something to publish: most sweeps find
    nothing (the fast path did its job) and need not load the Pub/Sub client at all.
    """
    deadline = time.monotonic() + budget_seconds
    published = 0
    publisher: pubsub.Publisher | None = None
    while time.monotonic() < deadline:
        failure: Exception | None = None
        with get_engine().begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.topic, outbox.c.envelope)
                .where(outbox.c.published_at.is_(None),
                       outbox.c.occurred_at < datetime.now(UTC) - min_age)
                .order_by(outbox.c.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                break
            try:
                publisher = publisher or publisher_factory()
                publisher.publish_many([(topic, EventEnvelope.model_validate(envelope)) for _, topic, envelope in rows])
            except Exception as error:
                failure = error
            # One statement for the whole batch: per-row UPDATEs cost more than publishing.
            outcome = ({"published_at": datetime.now(UTC)} if failure is None
                       else {"last_error": f"{type(failure).__name__}: {failure}"[:1000]})
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([row_id for row_id, _, _ in rows]))
                .values(publish_attempts=outbox.c.publish_attempts + 1, **outcome)
            )
        if failure is not None:
            raise failure
        published += len(rows)
    if published:
        logger.info("outbox relay published %d events", published)
    return published
