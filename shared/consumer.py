"""Idempotent Pub/Sub consumers for CloudEvent functions.

``consume`` parses the push CloudEvent into an EventEnvelope and applies it in one
transaction together with a ``processed_events`` row for (consumer, event_id): a
redelivered event finds its row and changes nothing. Any failure, including a
message that cannot be parsed, raises: Pub/Sub retries it and, after the
subscription's maximum attempts, moves it to the dead-letter topic. Nothing is
half-applied because the transaction rolls back.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects.postgresql import insert

from shared.db import work
from shared.events import EventEnvelope, envelope_from

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.db import Work

logger = logging.getLogger(__name__)


def apply_once(consumer: str, event_id: uuid.UUID, apply: Callable[[Work], None]) -> bool:
    """Run ``apply`` and record (consumer, event_id) in one unit of work; False if done before.

    ``apply`` gets the unit: Core on its connection, or the ORM through its session.
    """
    from shared.tables import processed_events

    with work() as unit:
        first_time = unit.connection.execute(
            insert(processed_events)
            .values(consumer=consumer, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(processed_events.c.event_id)
        ).scalar_one_or_none()
        if first_time is None:
            logger.info("duplicate delivery ignored", extra={"event_id": str(event_id)})
            return False
        apply(unit)
    return True


def consume(cloud_event: Any, consumer: str, apply: Callable[[Session, EventEnvelope], None]) -> bool:
    """Apply a domain event once per consumer; returns False for a duplicate delivery."""
    envelope = envelope_from(cloud_event)
    return apply_once(consumer, envelope.event_id, lambda unit: apply(unit.session, envelope))
