"""The outbox's slow path: publish what the fast path left behind.

Rows are claimed with FOR UPDATE SKIP LOCKED, so overlapping sweeps never publish the
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

from sqlalchemy import select, update

from shared.db import get_engine
from shared.events import EventEnvelope
from shared.pubsub import Publisher
from shared.tables import outbox

logger = logging.getLogger(__name__)


def mark_published(event_ids: Sequence[uuid.UUID]) -> None:
    with get_engine().begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.event_id.in_(event_ids), outbox.c.published_at.is_(None))
            .values(published_at=datetime.now(UTC), publish_attempts=outbox.c.publish_attempts + 1)
        )


def relay(publisher_factory: Callable[[], Publisher], *, batch_size: int = 500,
          min_age: timedelta = timedelta(seconds=10), budget_seconds: float = 45.0) -> int:
    """Publish unpublished rows in batches until none are left or the budget is spent.

    The publisher is made only when there is something to publish: most sweeps find
    nothing (the fast path did its job) and need not load the Pub/Sub client at all.
    """
    deadline = time.monotonic() + budget_seconds
    published = 0
    publisher: Publisher | None = None
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
