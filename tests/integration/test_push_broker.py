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


def test_what_was_parked_before_a_restart_is_still_parked_and_replayable(consumer_url, tmp_path):
    """The dead-letter file is the record: a new broker (make dev started again) holds what
    the old one parked, and its replay delivers it."""
    parked = tmp_path / "dead-letters.jsonl"
    subscriptions = [Subscription("s", "t", "http://127.0.0.1:9/refused", "s-dead-letter", max_delivery_attempts=5)]
    first = PushBroker(PROJECT, subscriptions, parked, min_backoff=0.01, max_backoff=0.02)
    first.start()
    first.publish("t", b"kept")
    assert wait_for(lambda: len(first.dead_letters) == 1, timeout=15)
    first.stop()

    delivered: list[bytes] = []
    second = PushBroker(PROJECT, [Subscription("s", "t", consumer_url, "s-dead-letter")], parked)
    assert [letter["data"] for letter in second.dead_letters] == ["a2VwdA=="]  # b"kept"
    second._deliver = lambda delivery: delivered.append(delivery.message["data"])  # observe, do not push
    second.start()
    try:
        assert second.replay("s-dead-letter") == 1
        assert wait_for(lambda: delivered == ["a2VwdA=="], timeout=10)
        assert second.dead_letters == [] and parked.read_text() == ""
    finally:
        second.stop()


def test_a_hung_consumer_delays_only_its_own_subscription(consumer_url, tmp_path):
    """As in Pub/Sub, each subscription is delivered on its own: one whose endpoint hangs
    does not hold another's messages back."""
    import socket
    import time

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # accepts connections, never answers
    reached: list[float] = []
    broker = PushBroker(PROJECT, [
        Subscription("stuck", "t", f"http://127.0.0.1:{hung.getsockname()[1]}/", "stuck-dead-letter"),
        Subscription("fine", "t", consumer_url, "fine-dead-letter"),
    ], tmp_path / "dead-letters.jsonl")
    real = broker._deliver

    def observed(delivery):
        if delivery.subscription.name == "fine":
            reached.append(time.monotonic())
        real(delivery)

    broker._deliver = observed
    broker.start()
    try:
        started = time.monotonic()
        for _ in range(6):  # more than the stuck subscription has delivery threads
            broker.publish("t", b"{}")
        assert wait_for(lambda: len(reached) == 6, timeout=10)
        assert max(reached) - started < 5  # not after the stuck pushes' 60 s timeout
    finally:
        broker.stop()
        hung.close()
