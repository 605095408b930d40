"""The one entry of event functions: structured logs configured, a poison message logged
with its message id before it is raised to the dead-letter path."""
from __future__ import annotations

import base64
import json

import pytest
from cloudevents.http import CloudEvent

from shared import log
from shared.events.consumer import entry, on_event, on_tick
from shared.events.envelope import PoisonMessage


def _push(data: bytes, message_id: str = "42") -> CloudEvent:
    return CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "test"},
                      {"message": {"data": base64.b64encode(data).decode(), "messageId": message_id}})


@pytest.fixture
def fresh_logging(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-test")
    monkeypatch.setattr(log, "_configured", False)
    from shared.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_poison_message_is_logged_as_json_and_raised(fresh_logging, capsys):
    @on_event(None)
    def handle(unit, envelope):  # pragma: no cover - never reached: the message is no envelope
        raise AssertionError("applied a poison message")

    with pytest.raises(PoisonMessage):
        handle(_push(b"\x00 not an envelope", message_id="7"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    poison = [line for line in lines if line.get("message_id") == "7"]
    assert poison and poison[0]["severity"] == "ERROR" and "not an event envelope" in poison[0]["poison"]


def test_a_tick_runs_its_job_and_keeps_its_name(fresh_logging):
    ran = []

    @on_tick
    def handle() -> None:
        ran.append(True)

    handle(_push(b"{}"))
    assert ran == [True] and handle.__name__ == "handle"  # functions-framework registers by name


def test_other_failures_are_raised_for_a_retry(fresh_logging):
    @entry
    def handle(cloud_event) -> None:
        raise ConnectionError("the graph is down")

    with pytest.raises(ConnectionError):
        handle(_push(b"{}"))
