"""Domain events: the envelope, and emitting them through the transactional outbox.

``emit`` writes the event to ``outbox`` in the caller's transaction, so the event
exists if and only if the change does. After commit, the fast path publishes it;
the outbox-relay publishes whatever the fast path could not. Consumers de-duplicate
by ``event_id`` (shared/consumer.py). The envelope is documented in docs/events.md.
"""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, ConfigDict

from shared.topics import DOMAIN_EVENTS
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# The fast path runs inside the client's request: past this, the relay takes over.
FAST_PATH_TIMEOUT = 5.0


class EventEnvelope(ApiModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    type: str
    occurred_at: AwareDatetime
    aggregate_type: str
    aggregate_id: str
    schema_version: int = SCHEMA_VERSION
    payload: dict[str, Any]

    def attributes(self) -> dict[str, str]:
        """Pub/Sub message attributes: enough to filter subscriptions without parsing data."""
        return {
            "event_id": str(self.event_id),
            "type": self.type,
            "aggregate_type": self.aggregate_type,
            "schema_version": str(self.schema_version),
        }


class PoisonMessage(ValueError):
    """A message no retry can fix; raised so that it ends in the dead-letter topic."""


def envelope_from(cloud_event: Any) -> EventEnvelope:
    """The envelope inside a Pub/Sub push CloudEvent (``data.message.data``, base64)."""
    import base64

    try:
        message = cloud_event.data["message"]
        return EventEnvelope.model_validate_json(base64.b64decode(message["data"], validate=True))
    except (KeyError, TypeError, ValueError) as error:
        raise PoisonMessage(f"not an event envelope: {error}") from error


def emit(session: Session, type: str, aggregate_type: str, aggregate_id: Any, payload: dict[str, Any],
         *, topic: str = DOMAIN_EVENTS) -> EventEnvelope:
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        type=type,
        occurred_at=datetime.now(UTC),
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload,
    )
    from shared.models import OutboxEntry  # writers have the ORM loaded; consumers that only parse do not

    session.add(OutboxEntry(event_id=envelope.event_id, topic=topic, type=type, occurred_at=envelope.occurred_at,
                            envelope=envelope.model_dump(mode="json")))
    pending = session.info.setdefault("outbox_pending", [])
    if not pending:
        session.info.setdefault("after_commit", []).append(lambda: publish_after_commit(pending))
    pending.append((topic, envelope))
    return envelope


def publish_after_commit(pending: list[tuple[str, EventEnvelope]]) -> None:
    """The fast path: publish what this transaction emitted and mark it published.

    A failure here loses nothing: the rows stay unpublished and the outbox-relay
    publishes them on its next sweep, so it is logged, not raised to the client
    whose change has already committed.
    """
    from shared.outbox import mark_published
    from shared.pubsub import get_publisher

    try:
        publisher = get_publisher()
        publisher.publish_many([(topic, envelope) for topic, envelope in pending], timeout=FAST_PATH_TIMEOUT)
        mark_published([envelope.event_id for _, envelope in pending])
    except Exception:
        logger.warning("fast-path publish failed; the outbox relay will publish these events",
                       exc_info=True, extra={"event_id": ",".join(str(e.event_id) for _, e in pending)})
