"""Pub/Sub's local stand-in where the Cloud SDK emulator is not installed.

It accepts Pub/Sub's REST publish call (what shared.events.pubsub.BrokerPublisher sends)
and push-delivers each message to every subscribed function in Pub/Sub's push
format, with the same semantics the cloud subscriptions have: exponential backoff
between attempts and, after ``max_delivery_attempts``, the dead-letter topic (here a
JSON-lines file plus an in-memory list, with Pub/Sub's dead-letter attributes). As
``gcloud pubsub subscriptions update`` does in the cloud, a subscription's retry and
dead-letter policy can be read and changed while it runs (Pub/Sub's REST ``get`` and
``patch``): a drill shortens the retry window instead of waiting 40 minutes (local/drill.py).
"""
from __future__ import annotations

import base64
import dataclasses
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


def _parked(path: Path) -> list[dict]:
    """What an earlier run parked (a line cut short by a crash is the one thing skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            logger.warning("skipped a damaged line of %s", path)
    return records


class PushBroker:
    def __init__(self, project: str, subscriptions: list[Subscription], dead_letter_file: Path,
                 *, min_backoff: float = 1.0, max_backoff: float = 10.0, workers: int = 2) -> None:
        self.project = project
        self.subscriptions = subscriptions
        self.dead_letter_file = dead_letter_file
        # What was parked before a restart is still parked (and replayable): the file is the record.
        self.dead_letters: list[dict] = _parked(dead_letter_file)
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        # A queue and ``workers`` delivery threads per subscription: as in Pub/Sub, a consumer
        # that hangs delays its own messages, never another subscription's.
        self._queues: dict[str, list[_Delivery]] = {s.name: [] for s in subscriptions}
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._ready = threading.Condition()
        self._stopping = False
        self._workers = [threading.Thread(target=self._work, args=(s.name,), name=f"broker-{s.name}-{i}", daemon=True)
                         for s in subscriptions for i in range(workers)]
        self._server = None

    # -- publishing -------------------------------------------------------------
    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        with self._ready:
            return self._enqueue(topic, data, attributes)

    def _enqueue(self, topic: str, data: bytes, attributes: dict[str, str] | None) -> str:
        """Queue a message for every subscription of ``topic``; the caller holds the lock."""
        message_id = str(next(self._ids))
        message = {"data": base64.b64encode(data).decode(), "attributes": attributes or {},
                   "messageId": message_id, "publishTime": datetime.now(UTC).isoformat()}
        for subscription in (s for s in self.subscriptions if s.topic == topic):
            heapq.heappush(self._queues[subscription.name],
                           _Delivery(time.monotonic(), next(self._seq), subscription, message))
        self._ready.notify_all()
        return message_id

    def replay(self, dead_letter_topic: str) -> int:
        """Publish what ``dead_letter_topic`` holds to the topics it came from (their source
        subscriptions'), without the dead-letter attributes, and forget it: the local half of
        ``python -m infra.replay`` (the other half talks to Pub/Sub)."""
        sources = {s.name: s.topic for s in self.subscriptions}

        def replayable(record: dict) -> bool:  # a source subscription gone since: it stays parked
            return (record["topic"] == dead_letter_topic
                    and record["attributes"].get("CloudPubSubDeadLetterSourceSubscription") in sources)

        with self._ready:
            parked = [r for r in self.dead_letters if replayable(r)]
            # Published first, forgotten after: a replay that fails midway has lost nothing.
            for record in parked:
                attributes = {k: v for k, v in record["attributes"].items()
                              if not k.startswith("CloudPubSubDeadLetter")}
                self._enqueue(sources[record["attributes"]["CloudPubSubDeadLetterSourceSubscription"]],
                              base64.b64decode(record["data"]), attributes)
            self.dead_letters = [r for r in self.dead_letters if not replayable(r)]
            with self.dead_letter_file.open("w") as out:
                out.writelines(json.dumps(record) + "\n" for record in self.dead_letters)
        return len(parked)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and len(parts) == 5 and parts[3] == "topics" and parts[4].endswith(":replay"):
            moved = self.replay(parts[4].removesuffix(":replay"))
            return Response(json.dumps({"replayed": moved}), mimetype="application/json")(environ, start_response)
        if request.method in ("GET", "PATCH") and len(parts) == 5 and parts[3] == "subscriptions":
            return self._subscription_call(request, parts[4])(environ, start_response)
        if request.method != "POST" or len(parts) != 5 or not parts[4].endswith(":publish"):
            return Response("not found", 404)(environ, start_response)
        topic = parts[4].removesuffix(":publish")
        body = request.get_json(silent=True) or {}
        ids = [self.publish(topic, base64.b64decode(m.get("data", "")), m.get("attributes"))
               for m in body.get("messages", [])]
        return Response(json.dumps({"messageIds": ids}), mimetype="application/json")(environ, start_response)

    # -- subscriptions: their policies, as Pub/Sub's get and patch ---------------------
    def subscription(self, name: str) -> Subscription:
        with self._ready:
            found = next((s for s in self.subscriptions if s.name == name), None)
        if found is None:
            raise KeyError(name)
        return found

    def update(self, name: str, *, min_backoff: float | None = None, max_backoff: float | None = None,
               max_delivery_attempts: int | None = None) -> Subscription:
        """Change a subscription's retry policy or maximum delivery attempts; it applies from
        each message's next attempt on, to messages already waiting too (as in Pub/Sub)."""
        if max_delivery_attempts is not None and not 5 <= max_delivery_attempts <= 100:  # Pub/Sub's bounds
            raise ValueError(f"max_delivery_attempts {max_delivery_attempts}: 5 to 100")
        changes = {key: value for key, value in (("min_backoff", min_backoff), ("max_backoff", max_backoff),
                                                 ("max_delivery_attempts", max_delivery_attempts)) if value is not None}
        with self._ready:
            updated = dataclasses.replace(self.subscription(name), **changes)
            low, high = self._backoffs(updated)
            if not 0 <= low <= high <= 600:
                raise ValueError(f"backoff {low:g}s..{high:g}s: from 0 s up to at most 600 s")
            self.subscriptions = [updated if s.name == name else s for s in self.subscriptions]
        return updated

    def _backoffs(self, subscription: Subscription) -> tuple[float, float]:
        return (self._min_backoff if subscription.min_backoff is None else subscription.min_backoff,
                self._max_backoff if subscription.max_backoff is None else subscription.max_backoff)

    def _resource(self, subscription: Subscription) -> dict:
        low, high = self._backoffs(subscription)
        topics = f"projects/{self.project}/topics"
        return {"name": f"projects/{self.project}/subscriptions/{subscription.name}",
                "topic": f"{topics}/{subscription.topic}",
                "pushConfig": {"pushEndpoint": subscription.push_url},
                "retryPolicy": {"minimumBackoff": f"{low:g}s", "maximumBackoff": f"{high:g}s"},
                "deadLetterPolicy": {"deadLetterTopic": f"{topics}/{subscription.dead_letter_topic}",
                                     "maxDeliveryAttempts": subscription.max_delivery_attempts}}

    def _subscription_call(self, request: Request, name: str) -> Response:
        """GET a subscription, or PATCH its ``retryPolicy`` / ``deadLetterPolicy.maxDeliveryAttempts``
        (``{"subscription": {...}, "updateMask": "retryPolicy,deadLetterPolicy"}``)."""
        try:
            self.subscription(name)
        except KeyError:
            return Response(json.dumps({"error": f"no subscription {name}"}), 404, mimetype="application/json")
        if request.method == "PATCH":
            body = request.get_json(silent=True) or {}
            wanted, mask = body.get("subscription") or {}, {p.strip() for p in body.get("updateMask", "").split(",")}
            retry, dead_letter = wanted.get("retryPolicy") or {}, wanted.get("deadLetterPolicy") or {}
            try:
                if not mask or not mask <= {"retryPolicy", "deadLetterPolicy"}:
                    raise ValueError(f"updateMask may name retryPolicy and deadLetterPolicy: {sorted(mask)}")
                self.update(
                    name,
                    min_backoff=seconds(retry["minimumBackoff"]) if "retryPolicy" in mask else None,
                    max_backoff=seconds(retry["maximumBackoff"]) if "retryPolicy" in mask else None,
                    max_delivery_attempts=(int(dead_letter["maxDeliveryAttempts"]) if "deadLetterPolicy" in mask
                                           else None))
            except (KeyError, TypeError, ValueError) as error:
                return Response(json.dumps({"error": f"bad update: {error!r}"}), 400, mimetype="application/json")
        return Response(json.dumps(self._resource(self.subscription(name))), mimetype="application/json")

    # -- delivering -------------------------------------------------------------
    def _work(self, name: str) -> None:
        queue = self._queues[name]
        while True:
            with self._ready:
                while not self._stopping and (not queue or queue[0].due > time.monotonic()):
                    self._ready.wait(timeout=(queue[0].due - time.monotonic()) if queue else None)
                if self._stopping:
                    return
                delivery = heapq.heappop(queue)
            self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        subscription = self.subscription(delivery.subscription.name)  # its policy as it is now
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
        low, high = self._backoffs(subscription)
        backoff = min(high, low * 2 ** (delivery.attempt - 1))
        with self._ready:
            heapq.heappush(self._queues[subscription.name], _Delivery(time.monotonic() + backoff, next(self._seq),
                                                                      subscription, delivery.message,
                                                                      delivery.attempt + 1))
            self._ready.notify_all()

    def _dead_letter(self, delivery: _Delivery) -> None:
        subscription = self.subscription(delivery.subscription.name)
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
