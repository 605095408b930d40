"""Domain events: the envelope, and emitting them through the transactional outbox.

``emit`` writes the event to ``outbox`` in the caller's transaction, so the event
exists if and only if the change does. After commit, the fast path publishes it;
the outbox-relay publishes whatever the fast path could not. Consumers de-duplicate
by ``event_id`` (shared/events/consumer.py). The envelope is documented in docs/events.md.
"""
from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, ConfigDict

from shared.types import ApiModel

SCHEMA_VERSION = 1


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

