"""The outbox's fast path never holds a committed write for long: it waits on Pub/Sub at
most FAST_PATH_TIMEOUT, and after a failure the following requests skip it for a while
(the events are safe in the outbox; the relay publishes them)."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import outbox, pubsub
from shared.events.envelope import EventEnvelope


class Unreachable:
    """Pub/Sub down: a publish blocks for as long as it is allowed, then fails."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def publish_many(self, messages, *, timeout: float = 30.0) -> None:
        self.calls.append(timeout)
        time.sleep(timeout)
        raise TimeoutError("Pub/Sub did not answer")


def _pending() -> list:
    envelope = EventEnvelope(event_id=uuid.uuid4(), type="t.x", occurred_at=datetime.now(UTC),
                             aggregate_type="t", aggregate_id="1", payload={})
    return [("domain-events", envelope)]


@pytest.fixture
def down(monkeypatch):
    publisher = Unreachable()
    monkeypatch.setattr(pubsub, "get_publisher", lambda: publisher)
    monkeypatch.setattr(outbox, "_publisher_warm", True)  # this instance has published before
    outbox.resume_fast_path()
    yield publisher
    outbox.resume_fast_path()


def test_a_failing_publish_costs_one_request_the_budget_and_the_next_nothing(down):
    started = time.perf_counter()
    outbox.publish_after_commit(_pending())
    first = time.perf_counter() - started
    assert down.calls == [outbox.FAST_PATH_TIMEOUT] and outbox.FAST_PATH_TIMEOUT <= 0.1
    assert first < outbox.FAST_PATH_TIMEOUT + 0.5
    started = time.perf_counter()
    outbox.publish_after_commit(_pending())
    assert time.perf_counter() - started < 0.05 and len(down.calls) == 1  # paused: not even tried


def test_the_pause_ends(down, monkeypatch):
    outbox.publish_after_commit(_pending())
    monkeypatch.setattr(outbox, "_fast_path_paused_until", time.monotonic() - 1)
    outbox.publish_after_commit(_pending())
    assert len(down.calls) == 2


def test_an_instances_first_publish_may_open_its_channel(monkeypatch):
    calls = []

    class Publisher:
        def publish_many(self, messages, *, timeout: float = 30.0) -> None:
            calls.append(timeout)

    monkeypatch.setattr(pubsub, "get_publisher", lambda: Publisher())
    monkeypatch.setattr(outbox, "_publisher_warm", False)
    monkeypatch.setattr(outbox, "mark_published", lambda ids: None)
    outbox.resume_fast_path()
    outbox.publish_after_commit(_pending())
    outbox.publish_after_commit(_pending())
    assert calls == [outbox.FIRST_PUBLISH_TIMEOUT, outbox.FAST_PATH_TIMEOUT]
