"""Pub/Sub's local stand-in where the Cloud SDK emulator is not installed.

It accepts Pub/Sub's REST publish call (what shared.events.pubsub.BrokerPublisher sends)
and push-delivers each message to every subscribed function in Pub/Sub's push
format, with the same semantics the cloud subscriptions have: exponential backoff
between attempts and, after ``max_delivery_attempts``, the dead-letter topic (here a
JSON-lines file plus an in-memory list, with Pub/Sub's dead-letter attributes).
"""
from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

logger = logging.getLogger(__name__)


def seconds(duration: str) -> float:
    """A Pub/Sub duration ("10s", "600s", "0.5s") in seconds."""
    if not duration.endswith("s"):
        raise ValueError(f"not a duration in seconds: {duration!r}")
    return float(duration.removesuffix("s"))


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    push_url: str
    dead_letter_topic: str
    max_delivery_attempts: int = 5
    # Seconds; None: the broker's own (tests pass short ones to the broker).
    min_backoff: float | None = None
    max_backoff: float | None = None


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    subscription: Subscription = field(compare=False)
    message: dict = field(compare=False)
    attempt: int = field(default=1, compare=False)


class PushBroker:
    def __init__(self, project: str, subscriptions: list[Subscription], dead_letter_file: Path,
                 *, min_backoff: float = 1.0, max_backoff: float = 10.0, workers: int = 2) -> None:
        self.project = project
        self.subscriptions = subscriptions
        self.dead_letter_file = dead_letter_file
        self.dead_letters: list[dict] = []
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._ready = threading.Condition()
        self._stopping = False
        self._workers = [threading.Thread(target=self._work, name=f"broker-{i}", daemon=True) for i in range(workers)]
        self._server = None

    # -- publishing -------------------------------------------------------------
    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        message_id = str(next(self._ids))
        message = {"data": base64.b64encode(data).decode(), "attributes": attributes or {},
                   "messageId": message_id, "publishTime": datetime.now(UTC).isoformat()}
        with self._ready:
            for subscription in (s for s in self.subscriptions if s.topic == topic):
                heapq.heappush(self._queue, _Delivery(time.monotonic(), next(self._seq), subscription, message))
            self._ready.notify_all()
        return message_id

    def replay(self, dead_letter_topic: str) -> int:
        """Publish what ``dead_letter_topic`` holds to the topics it came from (their source
        subscriptions'), without the dead-letter attributes, and forget it: the local half of
        ``python -m infra.replay`` (the other half talks to Pub/Sub)."""
        sources = {s.name: s.topic for s in self.subscriptions}
        with self._ready:
            parked = [r for r in self.dead_letters if r["topic"] == dead_letter_topic]
            self.dead_letters = [r for r in self.dead_letters if r["topic"] != dead_letter_topic]
            with self.dead_letter_file.open("w") as out:
                out.writelines(json.dumps(record) + "\n" for record in self.dead_letters)
        for record in parked:
            attributes = {k: v for k, v in record["attributes"].items() if not k.startswith("CloudPubSubDeadLetter")}
            self.publish(sources[record["attributes"]["CloudPubSubDeadLetterSourceSubscription"]],
                         base64.b64decode(record["data"]), attributes)
        return len(parked)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and len(parts) == 5 and parts[3] == "topics" and parts[4].endswith(":replay"):
            moved = self.replay(parts[4].removesuffix(":replay"))
            return Response(json.dumps({"replayed": moved}), mimetype="application/json")(environ, start_response)
        if request.method != "POST" or len(parts) != 5 or not parts[4].endswith(":publish"):
            return Response("not found", 404)(environ, start_response)
        topic = parts[4].removesuffix(":publish")
        body = request.get_json(silent=True) or {}
        ids = [self.publish(topic, base64.b64decode(m.get("data", "")), m.get("attributes"))
               for m in body.get("messages", [])]
        return Response(json.dumps({"messageIds": ids}), mimetype="application/json")(environ, start_response)

    # -- delivering -------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                    self._ready.wait(timeout=(self._queue[0].due - time.monotonic()) if self._queue else None)
                if self._stopping:
                    return
                delivery = heapq.heappop(self._queue)
            self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        subscription = delivery.subscription
        body = {"subscription": f"projects/{self.project}/subscriptions/{subscription.name}",
                "message": delivery.message, "deliveryAttempt": delivery.attempt}
        try:
            ok = requests.post(subscription.push_url, json=body, timeout=60).ok
        except requests.RequestException:
            ok = False
        if ok:
            return
        if delivery.attempt >= subscription.max_delivery_attempts:
            self._dead_letter(delivery)
            return
        low = self._min_backoff if subscription.min_backoff is None else subscription.min_backoff
        high = self._max_backoff if subscription.max_backoff is None else subscription.max_backoff
        backoff = min(high, low * 2 ** (delivery.attempt - 1))
        with self._ready:
            heapq.heappush(self._queue, _Delivery(time.monotonic() + backoff, next(self._seq), subscription,
                                                  delivery.message, delivery.attempt + 1))
            self._ready.notify_all()

    def _dead_letter(self, delivery: _Delivery) -> None:
        subscription = delivery.subscription
        record = {
            "topic": subscription.dead_letter_topic,
            "data": delivery.message["data"],
            "attributes": {
                **delivery.message["attributes"],
                "CloudPubSubDeadLetterSourceSubscription": subscription.name,
                "CloudPubSubDeadLetterSourceDeliveryCount": str(delivery.attempt),
            },
        }
        logger.error("message %s dead-lettered to %s after %d attempts", delivery.message["messageId"],
                     subscription.dead_letter_topic, delivery.attempt)
        with self._ready:
            self.dead_letters.append(record)
            with self.dead_letter_file.open("a") as out:
                out.write(json.dumps(record) + "\n")

    # -- lifecycle --------------------------------------------------------------
    def start(self, port: int | None = None) -> None:
        for worker in self._workers:
            worker.start()
        if port is not None:
            self._server = make_server("127.0.0.1", port, self.wsgi, threaded=True)
            threading.Thread(target=self._server.serve_forever, name="broker-http", daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for worker in self._workers:
            worker.join(5)
