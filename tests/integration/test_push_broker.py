"""The local push broker (used where the Cloud SDK emulator is not installed) keeps
Pub/Sub's promises: push delivery, retries with backoff, dead-lettering after the
allowed attempts, and the REST publish call the functions use."""
from __future__ import annotations

import json

import pytest

from local.broker import PushBroker, Subscription
from local.processes import free_port
from shared.events.pubsub import BrokerPublisher
from tests.conftest import PROJECT
from tests.integration.conftest import effects
from tests.support.pubsub import envelope
from tests.support.waiting import wait_for


@pytest.fixture
def broker(consumer_url, tmp_path):
    port = free_port()
    broker = PushBroker(PROJECT, [Subscription("test-events-consumer", "test-events", consumer_url,
                                               "test-consumer-dead-letter", max_delivery_attempts=4)],
                        tmp_path / "dead-letters.jsonl", min_backoff=0.05, max_backoff=0.2)
    broker.start(port)
    yield broker, f"http://127.0.0.1:{port}"
    broker.stop()


def test_duplicates_apply_once_and_poison_is_dead_lettered(broker, clean_state, db):
    broker, url = broker
    publisher = BrokerPublisher(url, PROJECT)
    good, poison = envelope(), envelope(explode=True)
    publisher.publish_many([("test-events", good)] * 3 + [("test-events", poison)])
    broker.publish("test-events", b"garbage")

    assert wait_for(lambda: len(broker.dead_letters) == 2, timeout=30)
    assert wait_for(lambda: effects(db) == 1)
    counts = {letter["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"] for letter in broker.dead_letters}
    assert counts == {"4"}
    assert {letter["attributes"].get("event_id") for letter in broker.dead_letters} == {str(poison.event_id), None}
    on_disk = [json.loads(line) for line in broker.dead_letter_file.read_text().splitlines()]
    assert on_disk == broker.dead_letters


def test_unsubscribed_topics_and_bad_calls(broker):
    broker, url = broker
    import requests

    assert requests.post(f"{url}/v1/projects/{PROJECT}/topics/nobody-listens:publish",
                         json={"messages": [{"data": "e30="}]}, timeout=5).json() == {"messageIds": ["1"]}
    assert requests.get(f"{url}/v1/projects/{PROJECT}/topics/x:publish", timeout=5).status_code == 404
