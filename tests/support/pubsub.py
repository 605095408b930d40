"""Reading and writing the Pub/Sub emulator from tests."""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from local.pubsub import emulator_env
from shared.events.envelope import EventEnvelope
from tests.conftest import PROJECT


class Observer:
    """A pull subscription on a topic: what was published there after it was made."""

    def __init__(self, host: str, topic: str, name: str | None = None) -> None:
        from google.cloud import pubsub_v1

        with emulator_env(host):
            self.subscriber = pubsub_v1.SubscriberClient()
        self.path = self.subscriber.subscription_path(PROJECT, name or f"observe-{uuid.uuid4().hex[:12]}")
        self._own = name is None
        if self._own:
            self.subscriber.create_subscription(name=self.path, topic=f"projects/{PROJECT}/topics/{topic}")

    def pull(self, expect: int, timeout: float = 15.0) -> list:
        """Messages until ``expect`` arrived or the timeout passed (then whatever came)."""
        received, deadline = [], time.monotonic() + timeout
        while len(received) < expect and time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.path, max_messages=100, timeout=5)
            if response.received_messages:
                self.subscriber.acknowledge(subscription=self.path,
                                            ack_ids=[m.ack_id for m in response.received_messages])
                received += [m.message for m in response.received_messages]
            else:
                time.sleep(0.2)
        return received

    def envelopes(self, expect: int, timeout: float = 15.0) -> list[dict]:
        return [json.loads(m.data) for m in self.pull(expect, timeout)]

    def close(self) -> None:
        if self._own:
            self.subscriber.delete_subscription(subscription=self.path)


def publish(host: str, topic: str, data: bytes, **attributes: str) -> None:
    from google.cloud import pubsub_v1

    with emulator_env(host):
        publisher = pubsub_v1.PublisherClient()
    publisher.publish(publisher.topic_path(PROJECT, topic), data, **attributes).result(timeout=10)


def envelope(**payload) -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type="test.happened", occurred_at=datetime.now(UTC),
                         aggregate_type="thing", aggregate_id=str(uuid.uuid4()), payload=payload)
