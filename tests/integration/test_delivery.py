"""Nothing is lost between functions: through the default local transport (the push broker,
decision 0022), every event consumer (graph-etl, media-cleanup, image-processing, and the
test consumer that fails half-way) that is down, then failing, then up gets every good
message applied exactly once, duplicates and stragglers absorbed, and the poison message
parked in the dead-letter topic with its attempt count. Bounded: short backoff, no sleeps."""
from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from infra.manifest import REPO, load
from local.broker import PushBroker, Subscription
from local.processes import free_port, port_open, spawn
from tests.conftest import PROJECT, UPLOADS
from tests.integration.conftest import CONSUMER, effects
from tests.support.pubsub import envelope
from tests.support.waiting import wait_for


class FlakyFront:
    """In front of the consumer: answers 500 to the next ``failures`` pushes, then forwards."""

    def __init__(self, target_port: int) -> None:
        self.port, self.failures, self.seen = free_port(), 0, 0
        self._target = f"http://127.0.0.1:{target_port}/"
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.seen += 1
            fail = self.failures > 0
            self.failures -= fail
        if fail:
            return Response("injected failure", status=500)(environ, start_response)
        try:
            answer = requests.post(self._target, data=request.get_data(), headers={"Content-Type": "application/json"},
                                   timeout=30)
        except requests.ConnectionError:  # the consumer is down: what Pub/Sub sees is a failed push
            return Response("consumer down", status=502)(environ, start_response)
        return Response(answer.content, status=answer.status_code)(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()


def _envelope(n) -> tuple[bytes, dict[str, str]]:
    event = envelope(n=n)
    return event.model_dump_json().encode(), {"event_id": str(event.event_id), "type": event.type}


def _finalized(n) -> tuple[bytes, dict[str, str]]:
    """A finished upload no media waits for: image-processing records it and does nothing."""
    resource = {"bucket": UPLOADS, "name": f"uploads/nobody/{n}", "generation": "1", "size": "1"}
    return json.dumps(resource).encode(), {"eventType": "OBJECT_FINALIZE"}


@dataclass(frozen=True)
class Consumer:
    name: str  # its processed_events consumer
    source: Path
    good: Callable[[object], tuple[bytes, dict[str, str]]]
    poison: bytes


# The test consumer fails after writing (rollback); the real ones get what no retry can fix.
CONSUMERS = [Consumer("test-consumer", CONSUMER, _envelope, envelope(explode=True).model_dump_json().encode()),
             *(Consumer(name, load().by_name(name).main, good, b"\x00 not a message")
               for name, good in (("graph-etl", _envelope), ("media-cleanup", _envelope),
                                  ("image-processing", _finalized)))]


@pytest.fixture
def process_of(app_env, tmp_path):
    """A consumer's own process, stopped and started at will on one port."""
    started = []

    def make(consumer: Consumer):
        port = free_port()
        argv = [os.path.join(os.path.dirname(sys.executable), "functions-framework"), "--target", "handle",
                "--source", str(consumer.source), "--signature-type", "cloudevent", "--host", "127.0.0.1",
                "--port", str(port)]
        env = {**os.environ, "PYTHONPATH": str(REPO), "K_SERVICE": consumer.name}

        class Process:
            child = None

            def start(self) -> None:
                self.child = spawn(consumer.name, argv, env=env, log_dir=tmp_path)
                self.child.wait_until(lambda: port_open(port), 30)

            def stop(self) -> None:
                if self.child:
                    self.child.stop()

        process = Process()
        process.port = port
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def consumer(process_of):
    return process_of(CONSUMERS[0])


def _applied(db, consumer: str) -> int:
    db.rollback()
    return db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = :c"), {"c": consumer}).scalar()


@pytest.mark.parametrize("case", CONSUMERS, ids=lambda c: c.name)
def test_a_consumer_down_then_failing_then_up_loses_nothing_and_doubles_nothing(case, process_of, clean_state, db,
                                                                                tmp_path):
    process = process_of(case)
    front = FlakyFront(process.port)
    broker = PushBroker(PROJECT, [Subscription("events-consumer", "events", f"http://127.0.0.1:{front.port}/",
                                               "consumer-dead-letter", max_delivery_attempts=12)],
                        tmp_path / "dead-letters.jsonl", min_backoff=0.2, max_backoff=1.0)
    broker.start()
    try:
        good = [case.good(n) for n in range(5)]
        for data, attributes in [*good, (case.poison, {"event_id": "poison"})]:  # (a) while it is down
            broker.publish("events", data, attributes)
        assert wait_for(lambda: front.seen >= 6, timeout=10)  # every push tried, and refused
        front.failures = 4  # (b) then it answers 500 to the next pushes
        process.start()
        straggler = case.good("late")
        for data, attributes in (good[2], good[0], straggler, good[2]):  # (c) duplicates, and out of order
            broker.publish("events", data, attributes)

        assert wait_for(lambda: _applied(db, case.name) == 6, timeout=30)  # 0 lost
        assert wait_for(lambda: broker.dead_letters, timeout=30)  # (d) the poison one, parked
        [parked] = broker.dead_letters
        assert parked["topic"] == "consumer-dead-letter" and parked["attributes"]["event_id"] == "poison"
        assert parked["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"] == "12"
        assert _applied(db, case.name) == 6  # 0 doubled
        if case.name == "test-consumer":
            assert effects(db) == 6  # the poison one rolled back every time
    finally:
        broker.stop()
        front.close()


def test_events_parked_by_a_long_outage_come_back_with_the_replay(consumer, clean_state, db, tmp_path):
    """Past the retry window the events are dead-lettered, not dropped; after the repair,
    the replay (python -m infra.replay FUNCTION --local) applies each exactly once."""
    front = FlakyFront(consumer.port)
    broker = PushBroker(PROJECT, [Subscription("test-events-consumer", "test-events", f"http://127.0.0.1:{front.port}/",
                                               "test-consumer-dead-letter", max_delivery_attempts=3)],
                        tmp_path / "dead-letters.jsonl", min_backoff=0.1, max_backoff=0.2)
    port = free_port()
    broker.start(port)
    try:
        events = [envelope(n=n) for n in range(4)]
        for event in events:  # the consumer is down for longer than the retry window
            broker.publish("test-events", event.model_dump_json().encode(), {"event_id": str(event.event_id)})
        assert wait_for(lambda: len(broker.dead_letters) == 4, timeout=15)
        assert len((tmp_path / "dead-letters.jsonl").read_text().splitlines()) == 4
        consumer.start()  # repaired
        assert effects(db) == 0
        # What `python -m infra.replay FUNCTION --local` asks the stack's broker.
        replay = f"http://127.0.0.1:{port}/v1/projects/{PROJECT}/topics/test-consumer-dead-letter:replay"
        assert requests.post(replay, timeout=30).json() == {"replayed": 4}
        assert wait_for(lambda: effects(db) == 4, timeout=30)
        assert broker.dead_letters == [] and (tmp_path / "dead-letters.jsonl").read_text() == ""
        assert broker.replay("test-consumer-dead-letter") == 0  # nothing left to replay
        db.rollback()
        assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'test-consumer'")).scalar() == 4
    finally:
        broker.stop()
        front.close()
