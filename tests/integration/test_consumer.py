"""Idempotent consumers: redelivery changes nothing, failures roll back and retry,
and a poison message ends in the dead-letter topic after the allowed attempts."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from local.pubsub import create_push_subscription, create_topics, inspect_subscription
from tests.conftest import PROJECT
from tests.integration.conftest import CONSUMER, effects
from tests.support.pubsub import Observer, envelope, publish
from tests.support.waiting import wait_for


def push_body(data: bytes, message_id: str = "1") -> dict:
    """What a Pub/Sub push subscription POSTs."""
    return {"subscription": f"projects/{PROJECT}/subscriptions/s",
            "message": {"data": base64.b64encode(data).decode(), "messageId": message_id,
                        "publishTime": "2026-11-22T00:00:00Z", "attributes": {}}}


@pytest.fixture(scope="module")
def consumer_client(app_env):
    from functions_framework import create_app

    return create_app(target="handle", source=str(CONSUMER), signature_type="cloudevent").test_client()


def test_duplicate_delivery_has_one_effect(consumer_client, clean_state, db):
    data = envelope().model_dump_json().encode()
    for attempt in range(3):
        assert consumer_client.post("/", json=push_body(data, str(attempt))).status_code == 200
    assert effects(db) == 1
    assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'test-consumer'")).scalar() == 1


@pytest.mark.parametrize("data", [b"not json", b'{"event_id": "x"}', b""])
def test_unparseable_messages_fail_without_effect(consumer_client, clean_state, db, data):
    response = consumer_client.post("/", json=push_body(data))
    assert response.status_code >= 400
    assert effects(db) == 0


def test_a_failing_consumer_leaves_nothing_half_applied(consumer_client, clean_state, db):
    data = envelope(explode=True).model_dump_json().encode()
    for _ in range(2):
        assert consumer_client.post("/", json=push_body(data)).status_code == 500
    assert effects(db) == 0
    assert db.execute(text("SELECT count(*) FROM processed_events")).scalar() == 0


@pytest.fixture(scope="module")
def pushed_consumer(pubsub_emulator, consumer_url):
    """The consumer process behind a real emulator push subscription with a dead-letter policy."""
    create_topics(pubsub_emulator, PROJECT, ["test-events", "test-consumer-dead-letter"])
    create_push_subscription(pubsub_emulator, PROJECT, topic="test-events", name="test-events-consumer",
                             push_url=consumer_url, dead_letter_topic="test-consumer-dead-letter",
                             max_delivery_attempts=5, min_backoff=0, max_backoff=1)
    return pubsub_emulator


def test_through_pubsub_duplicates_apply_once_and_poison_is_dead_lettered(pushed_consumer, clean_state, db):
    good = envelope()
    for _ in range(3):
        publish(pushed_consumer, "test-events", good.model_dump_json().encode(), event_id=str(good.event_id))
    poison = envelope(explode=True)
    publish(pushed_consumer, "test-events", poison.model_dump_json().encode(), event_id=str(poison.event_id))
    publish(pushed_consumer, "test-events", b"\x00 not an event")

    dead = Observer(pushed_consumer, "test-consumer-dead-letter", name=inspect_subscription("test-consumer-dead-letter"))
    # Generous: under load the emulator has been seen to pause ~110 s before a fifth delivery.
    dead_letters = dead.pull(expect=2, timeout=180)
    assert sorted(m.data for m in dead_letters) == sorted([poison.model_dump_json().encode(), b"\x00 not an event"])
    assert all(m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5" for m in dead_letters)
    assert wait_for(lambda: effects(db) == 1)
    db.rollback()
    applied = db.execute(text("SELECT event_id::text FROM processed_events WHERE consumer = 'test-consumer'")).scalars().all()
    assert applied == [str(good.event_id)]
