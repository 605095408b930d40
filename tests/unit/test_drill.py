"""The operator drill's own logic (local/drill.py) and the broker knob it turns: the write plan,
the comparison, reading the replay's and graph-etl's output, and the subscription PATCH that
shortens a retry window, as `gcloud pubsub subscriptions update` does."""
from __future__ import annotations

import json
import time

from werkzeug.test import Client as WsgiClient

from local.broker import PushBroker, Subscription
from local.drill import (
    CREATE_EVERY,
    Check,
    Write,
    drift,
    graph_failures,
    planned_write,
    reaction_call,
    replayed_count,
    summary,
)
from local.processes import free_port

USERS, ARTISTS, ITEMS = ["u0", "u1", "u2", "u3", "u4"], [0, 1], ["i0", "i1", "i2", "i3"]


def test_the_write_plan_rotates_reactions_over_every_pair_and_creates_as_artists():
    writes = [planned_write(n, USERS, ARTISTS, ITEMS) for n in range(600)]
    assert all(w.target != USERS[w.actor] for w in writes if w.kind == "follow")
    creations = [w for w in writes if w.kind in ("proposal", "item")]
    assert len(creations) == 2 * 600 // CREATE_EVERY and {w.actor for w in creations} == set(ARTISTS)
    follows = {(w.actor, w.target) for w in writes if w.kind == "follow"}
    assert len(follows) == len(USERS) * (len(USERS) - 1)  # every ordered pair, so each one toggles
    assert {(w.actor, w.target) for w in writes if w.kind == "like"} == {(a, i) for a in range(5) for i in ITEMS}


def test_a_reaction_is_added_when_absent_and_removed_when_present():
    assert reaction_call(Write("follow", 0, "u1"), present=False) == ("POST", "/api/users/u1/follow")
    assert reaction_call(Write("follow", 0, "u1"), present=True) == ("DELETE", "/api/users/u1/follow")
    assert reaction_call(Write("favorite", 2, "i3"), present=False) == ("PUT", "/api/items/i3/favorite")
    assert reaction_call(Write("like", 2, "i3"), present=True) == ("DELETE", "/api/items/i3/like")


def test_drift_counts_missing_stray_and_stale_keys():
    assert drift({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []
    assert sorted(drift({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4})) == ["b", "c", "d"]


def test_outputs_the_drill_reads():
    assert replayed_count("graph-etl: replayed 3 dead-lettered messages") == 3
    assert replayed_count("Traceback ...") is None
    failed = {"severity": "ERROR", "message": "Exception on / [POST]",
              "stack_trace": "...\nshared.graph.port.GraphUnavailable: FalkorDB: Timeout reading from socket"}
    other = {"severity": "ERROR", "message": "Exception on / [POST]", "stack_trace": "ValueError: no"}
    log = "\n".join([json.dumps(failed), json.dumps({"severity": "INFO", "message": "graph updated"}),
                     json.dumps(other), "not json", json.dumps(failed)])
    assert graph_failures(log) == 2


def test_the_summary_says_whether_every_check_held():
    good = [Check("2 b", "second", True, "x"), Check("1 a", "first", True, "y")]
    table = summary(good)
    assert table.index("first") < table.index("second") and table.endswith("2/2 checks hold")
    assert summary([*good, Check("3 c", "third", False, "z")]).endswith("2/3 checks hold: THE DRILL FAILED")


def test_the_broker_lets_a_subscriptions_retry_window_be_shortened_and_put_back(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens: every push fails at once
    broker = PushBroker("p", [Subscription("events-etl", "events", closed, "etl-dead-letter", 10, 10.0, 600.0)],
                        tmp_path / "dead-letters.jsonl")
    api, url = WsgiClient(broker.wsgi), "/v1/projects/p/subscriptions/events-etl"
    assert api.get(url).get_json()["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert api.get("/v1/projects/p/subscriptions/nope").status_code == 404
    short = {"subscription": {"retryPolicy": {"minimumBackoff": "0s", "maximumBackoff": "0.1s"},
                              "deadLetterPolicy": {"maxDeliveryAttempts": 5}},
             "updateMask": "retryPolicy,deadLetterPolicy"}
    too_few = {"subscription": {"deadLetterPolicy": {"maxDeliveryAttempts": 4}}, "updateMask": "deadLetterPolicy"}
    assert api.patch(url, json=too_few).status_code == 400  # Pub/Sub's bounds: 5 to 100 attempts
    changed = api.patch(url, json=short).get_json()
    assert changed["deadLetterPolicy"]["maxDeliveryAttempts"] == 5
    assert changed["retryPolicy"]["maximumBackoff"] == "0.1s"
    broker.start()
    try:
        broker.publish("events", b"{}", {"event_id": "e1"})
        deadline = time.monotonic() + 10
        while not broker.dead_letters and time.monotonic() < deadline:
            time.sleep(0.05)
        [record] = broker.dead_letters
        assert record["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    finally:
        broker.stop()
    back = {"subscription": {"retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
                             "deadLetterPolicy": {"maxDeliveryAttempts": 10}},
            "updateMask": "retryPolicy,deadLetterPolicy"}
    assert api.patch(url, json=back).get_json() == api.get(url).get_json()
    assert broker.subscription("events-etl") == Subscription("events-etl", "events", closed, "etl-dead-letter", 10,
                                                             10.0, 600.0)
