"""The graph-etl consumer: domain events -> the keys they changed -> shared.graph_sync.

Idempotent per event (processed_events, consumer ``graph-etl``): an event is recorded
only after the graph accepted its changes, so a failure (the graph is down) leaves it
unrecorded and Pub/Sub delivers it again; a duplicate delivery is skipped.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared.graph_sync import Changes, apply

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.events import EventEnvelope
    from shared.graph import Graph

logger = logging.getLogger(__name__)
CONSUMER = "graph-etl"
FUNDING_EVENTS = {"Funded", "Refunded"}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def changes_of(event: EventEnvelope) -> Changes:
    """What an event tells the graph to refresh; events the graph does not show change nothing."""
    changes, payload, kind = Changes(), event.payload, event.type
    if kind.startswith("user."):
        changes.users.add(event.aggregate_id)
        if kind == "user.wallet_linked" and payload.get("wallet_address"):
            changes.backers.add(payload["wallet_address"])
    elif kind.startswith("follow."):
        changes.follows.add((str(payload["follower_id"]), str(payload["followee_id"])))
    elif kind.startswith("proposal."):
        changes.proposals.add(event.aggregate_id)
    elif (kind in ("chain.funded", "chain.refunded", "chain.reverted") and payload.get("event") in FUNDING_EVENTS
          and event.aggregate_type == "proposal" and _is_uuid(event.aggregate_id)):
        changes.fundings.add((event.aggregate_id, payload["args"]["backer"]))
    return changes


def unprocessed(engine: Engine, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    with engine.connect() as conn:
        done = {row[0] for row in conn.execute(
            text("SELECT event_id FROM processed_events WHERE consumer = :consumer AND event_id = ANY(:ids)"),
            {"consumer": CONSUMER, "ids": [e.event_id for e in events]})}
    return [e for e in events if e.event_id not in done]


def consume_batch(engine: Engine, graph: Graph, events: Sequence[EventEnvelope]) -> int:
    """Apply a batch of events to the graph; returns how many were new."""
    fresh = unprocessed(engine, events)
    if not fresh:
        return 0
    changes = Changes()
    for event in fresh:
        changes.update(changes_of(event))
    with engine.connect() as conn:
        counts = apply(conn, graph, changes)
        conn.rollback()  # reads only
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO processed_events (consumer, event_id) "
                          "SELECT :consumer, unnest(CAST(:ids AS uuid[])) ON CONFLICT DO NOTHING"),
                     {"consumer": CONSUMER, "ids": [str(e.event_id) for e in fresh]})
    logger.info("graph updated", extra={"events": len(fresh), "synced": counts})
    return len(fresh)
