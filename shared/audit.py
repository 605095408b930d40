"""The append-only audit log: who did what to which entity."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Actor(Protocol):
    """Whoever acted: a signed-in user (shared.identity.access.Viewer, a User row)."""

    id: uuid.UUID


def record(session: Session, actor: Actor | None, action: str, entity_type: str, entity_id: Any, **details: Any) -> None:
    """Append an entry in the caller's transaction, so it commits with the change."""
    from shared.models import AuditEntry  # writers have the ORM loaded; readers never import this

    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            details=details,
        )
    )
