"""Idempotent consumers: redelivery changes nothing, failures roll back and retry (through
a transport, with outages and a poison message: test_delivery.py)."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from tests.conftest import PROJECT
from tests.integration.conftest import CONSUMER, effects
from tests.support.pubsub import envelope


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
