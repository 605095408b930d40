"""Structured logging: one JSON object per line, as Cloud Logging parses stdout."""
from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

_trace: ContextVar[str | None] = ContextVar("trace", default=None)
_configured = False


def set_trace(header: str | None, project: str | None) -> None:
    """Bind the request's Cloud Trace id (from X-Cloud-Trace-Context or traceparent)."""
    trace_id = None
    if header:
        if "/" in header:  # X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1
            trace_id = header.split("/", 1)[0]
        elif header.count("-") == 3:  # traceparent: 00-TRACE_ID-SPAN_ID-01
            trace_id = header.split("-")[1]
    _trace.set(f"projects/{project}/traces/{trace_id}" if trace_id and project else None)


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "function": os.environ.get("K_SERVICE", "local"),
        }
        trace = _trace.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        # Everything passed as ``extra=`` becomes a field Cloud Logging can filter and
        # log-based metrics can extract (jsonPayload.<name>).
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (test capture, a redirect)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _configured = True
