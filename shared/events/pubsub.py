"""Publishing to Pub/Sub: google-cloud-pubsub in the cloud and against the emulator
(PUBSUB_EMULATOR_HOST), or the local stack's push broker where the emulator is absent.
The client library is imported on first publish only."""
from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.events.envelope import EventEnvelope

Message = tuple[str, "EventEnvelope"]  # (topic, envelope)


class Publisher(Protocol):
    def publish_many(self, messages: Sequence[Message], *, timeout: float = 30.0) -> None:
        """Publish every message or raise; returns once all are acknowledged."""


class PubSubPublisher:
    def __init__(self, project: str) -> None:
        from google.cloud import pubsub_v1

        self._project = project
        # Larger batches than the default 100 messages: the relay hands over hundreds at once.
        batching = pubsub_v1.types.BatchSettings(max_messages=1000, max_bytes=4 * 1024 * 1024, max_latency=0.01)
        self._client = pubsub_v1.PublisherClient(batch_settings=batching)

    def publish_many(self, messages: Sequence[Message], *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout  # for the whole batch, not per message
        futures = [
            self._client.publish(self._client.topic_path(self._project, topic),
                                 envelope.model_dump_json().encode(), **envelope.attributes())
            for topic, envelope in messages
        ]
        for future in futures:
            future.result(timeout=max(0.0, deadline - time.monotonic()))


class BrokerPublisher:
    """Pub/Sub's REST publish call, sent to the local stack's push broker."""

    def __init__(self, base_url: str, project: str) -> None:
        self._base = base_url.rstrip("/")
        self._project = project

    def publish_many(self, messages: Sequence[Message], *, timeout: float = 30.0) -> None:
        import requests

        by_topic: dict[str, list[dict]] = {}
        for topic, envelope in messages:
            by_topic.setdefault(topic, []).append({
                "data": base64.b64encode(envelope.model_dump_json().encode()).decode(),
                "attributes": envelope.attributes(),
            })
        for topic, batch in by_topic.items():
            url = f"{self._base}/v1/projects/{self._project}/topics/{topic}:publish"
            requests.post(url, json={"messages": batch}, timeout=timeout).raise_for_status()


@lru_cache(maxsize=1)
def get_publisher() -> Publisher:
    settings = get_settings()
    if settings.local_pubsub_url:
        return BrokerPublisher(settings.local_pubsub_url, settings.google_cloud_project)
    return PubSubPublisher(settings.google_cloud_project)
