"""Reproduction: what each local Pub/Sub transport does with pushes to a consumer that is
down for a while, then up. Evidence for the default transport (docs/decisions/0022).

    python -m tests.support.pubsub_outage [--messages 20] [--down 15] [--wait 60]

Publishes N messages to a topic whose push subscription (retry 1-2 s, dead-letter after 5
attempts, as the tests configure it) points at a port nothing listens on; after --down
seconds a consumer answering 200 starts there; after --wait more seconds it counts what was
delivered, what was dead-lettered, and what was neither (lost), per transport.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.broker import PushBroker, Subscription
from local.processes import free_port
from local.pubsub import create_push_subscription, create_topics, emulator_binary, emulator_env, start_emulator

PROJECT = "demo-outage"


class Consumer:
    """Answers 200 to every push once started; remembers each message's payload."""

    def __init__(self, port: int) -> None:
        self.seen: list[int] = []
        self._server = make_server("127.0.0.1", port, self._app, threaded=True)

    def _app(self, environ, start_response):
        body = Request(environ).get_json(silent=True) or {}
        self.seen.append(json.loads(base64.b64decode(body["message"]["data"]))["n"])
        return Response(status=200)(environ, start_response)

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()


def _outcome(messages: int, delivered: list[int], dead: list[int]) -> dict[str, int]:
    lost = set(range(messages)) - set(delivered) - set(dead)
    return {"published": messages, "delivered": len(set(delivered)), "dead_lettered": len(set(dead)),
            "lost": len(lost)}


def emulator_run(messages: int, down: float, wait: float) -> dict[str, int]:
    from google.cloud import pubsub_v1

    with tempfile.TemporaryDirectory() as workdir:
        port, consumer_port = free_port(), free_port()
        emulator = start_emulator(port, Path(workdir))
        try:
            host = f"127.0.0.1:{port}"
            create_topics(host, PROJECT, ["events", "consumer-dead-letter"])
            create_push_subscription(host, PROJECT, topic="events", name="events-consumer",
                                     push_url=f"http://127.0.0.1:{consumer_port}/", dead_letter_topic="consumer-dead-letter",
                                     max_delivery_attempts=5, min_backoff=1, max_backoff=2)
            with emulator_env(host):
                publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
            for n in range(messages):
                publisher.publish(publisher.topic_path(PROJECT, "events"), json.dumps({"n": n}).encode()).result()
            time.sleep(down)
            consumer = Consumer(consumer_port)
            consumer.start()
            time.sleep(wait)
            consumer.stop()
            dead_path = subscriber.subscription_path(PROJECT, "consumer-dead-letter")
            pulled = subscriber.pull(subscription=dead_path, max_messages=1000, timeout=10).received_messages
            dead = [json.loads(m.message.data)["n"] for m in pulled]
            return _outcome(messages, consumer.seen, dead)
        finally:
            emulator.stop()


def broker_run(messages: int, down: float, wait: float) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as workdir:
        consumer_port = free_port()
        broker = PushBroker(PROJECT, [Subscription("events-consumer", "events", f"http://127.0.0.1:{consumer_port}/",
                                                   "consumer-dead-letter", 5)],
                            Path(workdir) / "dead.jsonl", min_backoff=1, max_backoff=2)
        broker.start()
        try:
            for n in range(messages):
                broker.publish("events", json.dumps({"n": n}).encode())
            time.sleep(down)
            consumer = Consumer(consumer_port)
            consumer.start()
            time.sleep(wait)
            consumer.stop()
            dead = [json.loads(base64.b64decode(record["data"]))["n"] for record in broker.dead_letters]
            return _outcome(messages, consumer.seen, dead)
        finally:
            broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--down", type=float, default=15.0)
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # the servers' request lines and the broker's dead-letter lines
    runs = {"broker": broker_run}
    if emulator_binary() is not None:
        runs["emulator"] = emulator_run
    for name, run in runs.items():
        print(name, json.dumps(run(args.messages, args.down, args.wait)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
