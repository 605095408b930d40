"""Re-publish what a consumer's dead-letter subscription holds to the topic it came from,
once whatever made the consumer fail is fixed.

    python -m infra.replay FUNCTION --project P [--max N] [--dry-run]
    python -m infra.replay FUNCTION --local          # the running `make dev` stack's push broker

Against Cloud Pub/Sub with the caller's credentials (a runbook command: docs/deploy.md), or
against the emulator when PUBSUB_EMULATOR_HOST is set, or (``--local``) against the local
stack's push broker, which keeps its dead letters itself (local/broker.py). Each message goes back to the
function's trigger topic with its data and attributes, less those Pub/Sub added when it
dead-lettered it, and is acknowledged after the publish succeeded: a replay that stops
half-way publishes some messages again next time. That is safe because every consumer
applies an event once (shared/events/consumer.py); the topic's other consumers, which had
the message already, skip it the same way.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.manifest import Function, load  # noqa: E402

DEAD_LETTER_ATTRIBUTES = ("CloudPubSubDeadLetterSourceDeliveryCount", "CloudPubSubDeadLetterSourceSubscription",
                          "CloudPubSubDeadLetterSourceSubscriptionProject", "CloudPubSubDeadLetterSourceTopicPublishTime")


def replay(subscriber: Any, publisher: Any, project: str, function: Function, *, max_messages: int = 10_000,
           dry_run: bool = False, batch: int = 100) -> int:
    """Move up to ``max_messages`` from the function's dead-letter subscription back to its
    topic; returns how many (with ``dry_run``: how many it saw, leaving them parked)."""
    if not function.topic:
        raise ValueError(f"{function.name} is not an event function: it has no dead letters")
    subscription = subscriber.subscription_path(project, function.dead_letter_topic)
    topic = publisher.topic_path(project, function.topic)
    moved = 0
    while moved < max_messages:
        response = subscriber.pull(subscription=subscription, max_messages=min(batch, max_messages - moved), timeout=10)
        received = list(response.received_messages)
        if not received:
            break
        if dry_run:
            subscriber.modify_ack_deadline(subscription=subscription, ack_ids=[m.ack_id for m in received],
                                           ack_deadline_seconds=0)  # back on the shelf at once
            return len(received)
        futures = [publisher.publish(topic, m.message.data,
                                     **{k: v for k, v in m.message.attributes.items() if k not in DEAD_LETTER_ATTRIBUTES})
                   for m in received]
        for future in futures:
            future.result(timeout=60)
        subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in received])
        moved += len(received)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.replay", description=__doc__.splitlines()[0])
    names = [f.name for f in load().event_functions()]
    parser.add_argument("function", choices=names)
    parser.add_argument("--project", help="the GCP project (or the emulator's)")
    parser.add_argument("--local", action="store_true", help="the running local stack's push broker")
    parser.add_argument("--max", type=int, default=10_000, help="move at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="count a first batch, move nothing")
    args = parser.parse_args(argv)
    function = load().by_name(args.function)
    if args.local:
        import json
        import urllib.request

        from local.config import StackConfig

        config = StackConfig.from_env()
        url = (f"http://127.0.0.1:{config.pubsub_port}/v1/projects/{config.project}/topics/"
               f"{function.dead_letter_topic}:replay")
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as answer:
            print(f"{args.function}: replayed {json.load(answer)['replayed']} dead-lettered messages")
        return 0
    if not args.project:
        parser.error("--project (or --local)")
    from google.cloud import pubsub_v1

    moved = replay(pubsub_v1.SubscriberClient(), pubsub_v1.PublisherClient(), args.project,
                   function, max_messages=args.max, dry_run=args.dry_run)
    print(f"{args.function}: {'found' if args.dry_run else 'replayed'} {moved} dead-lettered messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
