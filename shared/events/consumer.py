"""Event functions: the one entry shape, and applying each event once per consumer.

Every event function's handler goes through ``entry`` (directly, or through ``on_event``
and ``on_tick``, its two common shapes). It configures structured logging, ends the
start-up GC pause (shared/startup.py), and logs a poison message before re-raising it.

Delivery is at least once. ``on_event`` parses the push CloudEvent into an EventEnvelope
and applies it in one transaction together with a ``processed_events`` row for
(consumer, event_id): a redelivered event finds its row and changes nothing. Any failure,
including a message that cannot be parsed (PoisonMessage), raises: Pub/Sub retries it and,
after the subscription's maximum attempts, moves it to the dead-letter topic. Nothing is
half-applied because the transaction rolls back.

A consumer without a database would pass ``consumer=None``: its effect must then be
idempotent by itself (every consumer of this repository has one, and records what it applied).
"""
from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from shared import log, startup
from shared.config import get_settings
from shared.events.envelope import EventEnvelope, PoisonMessage, envelope_from

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.db import Work

logger = logging.getLogger(__name__)
CloudEventHandler = Callable[[Any], None]


def entry(run: Callable[[Any], object]) -> CloudEventHandler:
    """The handler of an event function: ``run(cloud_event)`` with logging configured;
    a poison message is logged with its event id and raised to the dead-letter path."""

    @functools.wraps(run)
    def handle(cloud_event: Any) -> None:
        try:
            log.configure(get_settings().log_level)
            run(cloud_event)
        except PoisonMessage as poison:
            logger.error("poison message: retries cannot fix it; it ends in the dead-letter topic",
                         extra={"poison": str(poison), "message_id": _message_id(cloud_event)})
            raise
        finally:
            startup.resume()

    return handle


def on_tick(job: Callable[[], object]) -> CloudEventHandler:
    """A scheduled job: the tick carries nothing; each run continues from stored state."""
    return entry(functools.wraps(job)(lambda _tick: job()))


def on_event(consumer: str | None) -> Callable[[Callable[[Work | None, EventEnvelope], None]], CloudEventHandler]:
    """A domain-event consumer: ``apply(unit, envelope)`` once per (consumer, event_id),
    in the unit of work that records it. ``consumer=None``: no database, ``unit`` is None."""

    def wrap(apply: Callable[[Work | None, EventEnvelope], None]) -> CloudEventHandler:
        def run(cloud_event: Any) -> None:
            envelope = envelope_from(cloud_event)
            if consumer is None:
                apply(None, envelope)
            else:
                apply_once(consumer, envelope.event_id, lambda unit: apply(unit, envelope))

        return entry(functools.wraps(apply)(run))

    return wrap


def run_all(*steps: Callable[[], object]) -> None:
    """Run every step, whatever the others do; then raise the first failure (each is logged).
    For a consumer's idempotent side effects after its commit: a redelivery repeats them all."""
    failures: list[Exception] = []
    for step in steps:
        try:
            step()
        except Exception as failure:  # raised below: nothing is swallowed
            logger.exception("a step of the event failed; the event will be delivered again")
            failures.append(failure)
    if failures:
        raise failures[0]


def apply_once(consumer: str, event_id: uuid.UUID, apply: Callable[[Work], None]) -> bool:
    """Run ``apply`` and record (consumer, event_id) in one unit of work; False if done before.

    ``apply`` gets the unit: Core on its connection, or the ORM through its session.
    """
    from sqlalchemy.dialects.postgresql import insert

    from shared.db import work
    from shared.tables import processed_events

    with work() as unit:
        first_time = unit.connection.execute(
            insert(processed_events)
            .values(consumer=consumer, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(processed_events.c.event_id)
        ).scalar_one_or_none()
        if first_time is None:
            logger.info("duplicate delivery ignored", extra={"event_id": str(event_id), "consumer": consumer})
            return False
        apply(unit)
    return True


# -- batches: a backlog applied in bulk (graph-etl's stream) ------------------------------------

def processed_among(conn: Connection, consumer: str, ids: Sequence[str]) -> set[str]:
    """Which of these event ids (as text) the consumer has recorded already."""
    from sqlalchemy import text

    return {str(row[0]) for row in conn.execute(
        text("SELECT event_id FROM processed_events WHERE consumer = :consumer "
             "AND event_id = ANY(CAST(string_to_array(:ids, ',') AS uuid[]))"),
        {"consumer": consumer, "ids": ",".join(ids)})}


def record_processed(conn: Connection, consumer: str, ids: Sequence[str]) -> None:
    """Record event ids (as text) for the consumer: COPY, or, when one is there already
    (a duplicate in a backlog, or another delivery meanwhile), INSERT ... ON CONFLICT."""
    from sqlalchemy import text

    from shared.bulk import copy_rows, is_unique_violation

    try:
        with conn.begin_nested():
            copy_rows(conn, "processed_events", ("consumer", "event_id"),
                      "".join(f"{consumer}\t{key}\n" for key in ids).encode())
            return
    except Exception as error:
        if not is_unique_violation(error):
            raise
    conn.execute(text("INSERT INTO processed_events (consumer, event_id) "
                      "SELECT :consumer, unnest(CAST(string_to_array(:ids, ',') AS uuid[])) ON CONFLICT DO NOTHING"),
                 {"consumer": consumer, "ids": ",".join(ids)})


def _message_id(cloud_event: Any) -> str | None:
    try:
        return str(cloud_event.data["message"].get("messageId"))
    except (AttributeError, KeyError, TypeError):
        return None
