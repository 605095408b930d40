"""The graph-etl consumer: domain events -> the keys they changed -> shared.graph.sync.

Idempotent per event (processed_events, consumer ``graph-etl``): an event is recorded
only after the graph accepted its changes, so a failure (the graph is down) leaves it
unrecorded and Pub/Sub delivers it again; a duplicate delivery is skipped. One delivery
goes through the event functions' entry (``apply_event``, shared/events/consumer.py); a
backlog goes through ``consume_stream``, which checks and records whole batches.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from shared.events.consumer import processed_among, record_processed
from shared.graph.sync import Changes, apply, is_uuid
from shared.threads import fast_thread_switches

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.db import Work
    from shared.events.envelope import EventEnvelope
    from shared.graph.port import Graph

logger = logging.getLogger(__name__)
CONSUMER = "graph-etl"
CHECK_DUPLICATES_UP_TO = 1_000
FUNDING_EVENTS = {"Funded", "Refunded"}
CHAIN_FLOWS = {"chain.funded", "chain.refunded", "chain.reverted"}
TOKEN_MOVES = {"chain.transfer", "chain.reverted"}
WALLET_CHANGES = {"user.wallet_linked", "user.wallet_unlinked"}
# Out of public sight and back (shared/moderation): the node and everything linked to it.
MODERATION = {"user.suspended", "user.reinstated", "item.hidden", "item.restored", "proposal.hidden",
              "proposal.restored"}


def collect(changes: Changes, event: EventEnvelope) -> Changes:
    """Add what an event tells the graph to refresh; events the graph does not show add nothing."""
    family, _, _ = event.type.partition(".")
    if event.type in MODERATION:
        changes.around.add((family, event.aggregate_id))
    if family == "user":
        changes.users.add(event.aggregate_id)
        if event.type in WALLET_CHANGES:
            # What the person funds is what their wallet now funds; what either wallet holds moves.
            changes.funders.add(event.aggregate_id)
            changes.backers |= {event.payload[key] for key in ("wallet_address", "previous_wallet_address")
                                if event.payload.get(key)}
    elif family == "follow":
        changes.follows.add((str(event.payload["follower_id"]), str(event.payload["followee_id"])))
    elif family == "proposal":
        changes.proposals.add(event.aggregate_id)
    elif family == "item":
        changes.items.add(event.aggregate_id)
    elif family == "favorite":
        changes.favorites.add((str(event.payload["user_id"]), str(event.payload["item_id"])))
    elif family == "like":
        changes.likes.add((str(event.payload["user_id"]), str(event.payload["item_id"])))
    elif family == "category":
        # The old node goes; what is in the category now is linked again under its slug.
        changes.categories |= {event.payload["slug"], event.payload.get("previous_slug") or event.payload["slug"]}
    elif event.type in TOKEN_MOVES and event.aggregate_type == "artwork":
        contract, _, token_id = event.aggregate_id.partition(":")
        changes.tokens.add((contract, token_id))
    # A campaign id that is no platform UUID (someone else's campaign) has no proposal node.
    elif (event.type in CHAIN_FLOWS and event.payload.get("event") in FUNDING_EVENTS
          and event.aggregate_type == "proposal" and is_uuid(event.aggregate_id)):
        changes.fundings.add((event.aggregate_id, event.payload["args"]["backer"]))
    return changes


def apply_event(unit: Work, graph: Graph, event: EventEnvelope) -> None:
    """One delivered event into the graph, reading rows in the unit that records it."""
    counts = apply(unit.connection, graph, collect(Changes(), event))
    logger.info("graph updated", extra={"events": 1, "synced": counts, "event_id": str(event.event_id)})


def unprocessed(engine: Engine, events: Sequence[EventEnvelope]) -> list[tuple[str, EventEnvelope]]:
    """The events to apply, each with its id as text (made once: it is used twice).

    Deliveries (a few events) skip what processed_events already holds. A backlog of
    thousands is applied whole: checking every id costs more than re-applying the rare
    duplicate, and the sync makes a duplicate change nothing (bench/graph_etl.py);
    every event is recorded either way.
    """
    keyed = [(str(event.event_id), event) for event in events]
    if len(keyed) > CHECK_DUPLICATES_UP_TO:
        return keyed
    with engine.connect() as conn:
        done = processed_among(conn, CONSUMER, [key for key, _ in keyed])
    return [(key, event) for key, event in keyed if key not in done]


def _record(engine: Engine, ids: Sequence[str]) -> None:
    with engine.begin() as conn:
        record_processed(conn, CONSUMER, ids)


def _prepare(engine: Engine, events: Sequence[EventEnvelope]) -> tuple[list[str], Changes]:
    fresh = unprocessed(engine, events)
    changes = Changes()
    for _, event in fresh:
        collect(changes, event)
    return [key for key, _ in fresh], changes


def consume_stream(engine: Engine, graph: Graph, batches: Iterable[Sequence[EventEnvelope]]) -> int:
    """Apply batches of events in order; returns how many were new.

    While one batch is written to the graph, a helper thread records the previous one
    as processed (only once the graph has taken it) and prepares the next one (its
    duplicates sorted out, its keys collected): the database's work and ours overlap
    the graph's.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    applied = 0
    batches = iter(batches)
    with fast_thread_switches(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-prepare") as helper:
        recording: Future[None] | None = None
        upcoming: Future[tuple[list[str], Changes]] | None = None
        first = next(batches, None)
        if first is not None:
            upcoming = helper.submit(_prepare, engine, first)
        while upcoming is not None:
            fresh, changes = upcoming.result()
            following = next(batches, None)
            upcoming = helper.submit(_prepare, engine, following) if following is not None else None
            if fresh:
                with engine.connect() as conn:
                    counts = apply(conn, graph, changes)
                    conn.rollback()  # reads only
                logger.info("graph updated", extra={"events": len(fresh), "synced": counts})
                applied += len(fresh)
            if recording is not None:
                recording.result()
            recording = helper.submit(_record, engine, fresh) if fresh else None
        if recording is not None:
            recording.result()
    return applied


def consume_batch(engine: Engine, graph: Graph, events: Sequence[EventEnvelope]) -> int:
    """Apply one batch of events to the graph; returns how many were new."""
    return consume_stream(engine, graph, [events])
