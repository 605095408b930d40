"""Versioned records (items, proposals): their ETags, If-Match on writes, and the one
tail every edit and state change shares.

A record carries an integer ``version`` that SQLAlchemy bumps on each write
(optimistic locking); its ETag names that version, and a write must name the version it
was based on. An edit or a transition then ends the same way for every kind of record:
set the values, flush with the version check, append the audit entry and emit the event,
all in the caller's transaction, so the three commit together or not at all.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared import audit
from shared.errors import Conflict, PreconditionFailed, PreconditionRequired
from shared.events.outbox import emit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

Payload = Callable[[Any], dict[str, Any]]


def versioned_etag(version: int, volatile: str = "") -> str:
    """``"<version>"``, or ``"<version>.<digest>"`` when the representation also holds
    values that change without an edit (counters): a GET revalidates on either, while
    If-Match checks only the version, so a like meanwhile does not fail an edit."""
    if not volatile:
        return f'"{version}"'
    return f'"{version}.{hashlib.blake2b(volatile.encode(), digest_size=6).hexdigest()}"'


def require_version(version: int, if_match: str | None) -> None:
    """Writes must name the version (ETag) they were based on."""
    if if_match is None:
        raise PreconditionRequired()
    versions = {tag.strip().strip('"').partition(".")[0] for tag in if_match.split(",")}
    if "*" not in versions and str(version) not in versions:
        raise PreconditionFailed(f"the current version is {version}")


def flush_versioned(session: Session, row: object, noun: str) -> None:
    """Write a versioned row (optimistic locking), then read back what the database set."""
    from sqlalchemy.orm.exc import StaleDataError

    try:
        session.flush()
    except StaleDataError:
        raise PreconditionFailed(f"the {noun} changed meanwhile; read it again") from None
    session.refresh(row)


def check_editable(noun: str, status: str, changes: Mapping[str, Any], editable: Mapping[str, frozenset[str]]) -> None:
    """A Conflict naming the fields that a record in ``status`` may not change."""
    frozen = set(changes) - editable.get(status, frozenset())
    if frozen:
        raise Conflict(f"a{'n' if noun[0] in 'aeiou' else ''} {noun} that is {status} cannot change "
                       f"{', '.join(sorted(frozen))}")


def save_changes(session: Session, user: User, record: Any, noun: str, values: Mapping[str, Any],
                 payload: Payload, *, changed: list[str]) -> None:
    """Set ``values`` on ``record``, write it, audit ``<noun>.updated`` (naming ``changed``)
    and emit ``<noun>.updated``."""
    for field, value in values.items():
        setattr(record, field, value)
    flush_versioned(session, record, noun)
    audit.record(session, user, f"{noun}.updated", noun, record.id, fields=sorted(changed))
    emit(session, f"{noun}.updated", noun, record.id, payload(record))


def change_state(session: Session, user: User, record: Any, noun: str, action: str, target: str,
                 payload: Payload, *, also: Mapping[str, Any] | None = None) -> None:
    """Move ``record`` to ``target`` by ``action`` (with ``also`` set alongside), write it,
    audit ``<noun>.<action>`` and emit ``<noun>.state_changed``."""
    previous = record.status
    record.status = target
    for field, value in (also or {}).items():
        setattr(record, field, value)
    flush_versioned(session, record, noun)
    audit.record(session, user, f"{noun}.{action}", noun, record.id, previous=previous, status=target)
    emit(session, f"{noun}.state_changed", noun, record.id,
         {**payload(record), "previous_status": previous, "action": action})
