import json
import logging

from shared.log import JsonFormatter, set_trace


def _format(message: str, **extra) -> dict:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_cloud_logging_fields(monkeypatch):
    monkeypatch.setenv("K_SERVICE", "proposals")
    set_trace("105445aa7843bc8bf206b12000100000/1;o=1", "demo")
    entry = _format("hello", event_id="e-1")
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello"
    assert entry["function"] == "proposals"
    assert entry["event_id"] == "e-1"
    assert entry["logging.googleapis.com/trace"] == "projects/demo/traces/105445aa7843bc8bf206b12000100000"


def test_w3c_traceparent_and_no_trace():
    set_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "demo")
    assert _format("x")["logging.googleapis.com/trace"] == "projects/demo/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    set_trace(None, "demo")
    assert "logging.googleapis.com/trace" not in _format("x")
