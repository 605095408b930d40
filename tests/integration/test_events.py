"""The transactional outbox: events exist exactly when their change does, the fast path
publishes them after commit, and the relay publishes whatever the fast path missed."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from shared.db import transaction
from shared.events import pubsub
from shared.events.envelope import EventEnvelope
from shared.events.outbox import emit, relay
from tests.integration.conftest import proposal_body
from tests.support.pubsub import Observer


@pytest.fixture
def domain_events(pubsub_emulator):
    observer = Observer(pubsub_emulator, "domain-events")
    yield observer
    observer.close()


class FailingPublisher:
    def publish_many(self, messages, *, timeout=30.0):
        raise ConnectionError("Pub/Sub is unreachable")


class CountingPublisher:
    def __init__(self):
        self.published: list = []
        self.lock = threading.Lock()

    def publish_many(self, messages, *, timeout=30.0):
        with self.lock:
            self.published += [envelope.event_id for _, envelope in messages]


def emit_unpublished(monkeypatch, count: int = 1) -> None:
    """Events committed while Pub/Sub is down: they wait in the outbox."""
    monkeypatch.setattr(pubsub, "get_publisher", lambda: FailingPublisher())
    with transaction() as session:
        for i in range(count):
            emit(session, "test.waiting", "thing", str(i), {"i": i})
    monkeypatch.undo()


def test_writes_publish_their_domain_events(api, people, make_proposal, domain_events, db):
    ada, ivan = people("artist"), people("investor")
    api.post(f"/api/users/{ada.id}/follow", token=ivan.token)
    proposal = make_proposal(ada, publish=True)
    api.patch(f"/api/proposals/{proposal['id']}", token=ada.token, json={"title": "Renamed"},
              headers={"If-Match": f'"{proposal["version"]}"'})

    envelopes = domain_events.envelopes(expect=6)
    types = [e["type"] for e in envelopes]
    assert sorted(types) == sorted(["user.registered", "user.registered", "follow.created",
                                    "proposal.created", "proposal.state_changed", "proposal.updated"])
    for envelope in envelopes:
        EventEnvelope.model_validate(envelope)  # the documented envelope, nothing more
    registered = next(e for e in envelopes if e["type"] == "user.registered" and e["aggregate_id"] == ada.id)
    assert registered["payload"] == {"id": ada.id, "role": "artist", "display_name": registered["payload"]["display_name"]}
    changed = next(e for e in envelopes if e["type"] == "proposal.state_changed")
    assert changed["payload"]["status"] == "open" and changed["payload"]["previous_status"] == "draft"
    assert changed["payload"]["goal"] == "2500000000000000000"
    unpublished = db.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar()
    assert unpublished == 0


def test_refused_requests_emit_nothing(api, people, db):
    ada = people("artist")
    before = db.execute(text("SELECT count(*) FROM outbox")).scalar()
    api.post("/api/proposals", token=ada.token, json=proposal_body(goal="-1"))
    api.post(f"/api/users/{ada.id}/follow", token=ada.token)
    assert db.execute(text("SELECT count(*) FROM outbox")).scalar() == before


def test_crash_between_commit_and_publish_is_repaired_by_the_relay(api, auth_emulator, domain_events, db, monkeypatch):
    _, token = auth_emulator.sign_up("late@example.test")
    monkeypatch.setattr(pubsub, "get_publisher", lambda: FailingPublisher())
    assert api.post("/api/register", token=token, json={"role": "investor"}).status_code == 201
    monkeypatch.undo()

    row = db.execute(text("SELECT event_id, published_at FROM outbox")).one()
    assert row.published_at is None
    assert domain_events.pull(expect=1, timeout=2) == []

    assert relay(pubsub.get_publisher, min_age=timedelta(0)) == 1
    delivered = domain_events.envelopes(expect=2, timeout=3)
    assert [e["event_id"] for e in delivered] == [str(row.event_id)]
    assert relay(pubsub.get_publisher, min_age=timedelta(0)) == 0
    db.rollback()
    assert db.execute(text("SELECT publish_attempts FROM outbox")).scalar() == 1


def test_relay_leaves_young_rows_to_the_fast_path(app_env, clean_state, monkeypatch):
    emit_unpublished(monkeypatch)
    counting = CountingPublisher()
    assert relay(lambda: counting, min_age=timedelta(minutes=5)) == 0
    assert relay(lambda: counting, min_age=timedelta(0)) == 1


def test_relay_failure_is_recorded_and_raised(app_env, clean_state, db, monkeypatch):
    emit_unpublished(monkeypatch)
    with pytest.raises(ConnectionError):
        relay(FailingPublisher, min_age=timedelta(0))
    row = db.execute(text("SELECT published_at, publish_attempts, last_error FROM outbox")).one()
    assert row.published_at is None and row.publish_attempts == 1
    assert "unreachable" in row.last_error


def test_concurrent_relays_publish_each_row_once(app_env, clean_state, monkeypatch):
    emit_unpublished(monkeypatch, 300)
    counting = CountingPublisher()
    threads = [threading.Thread(target=relay, args=(lambda: counting,), kwargs={"batch_size": 25, "min_age": timedelta(0)})
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counting.published) == 300 and len(set(counting.published)) == 300
