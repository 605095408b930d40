"""What administrators do: hide content and restore it, suspend a person and reinstate them.

Hidden content is out of every public read (lists, search, a detail's 404, the graph) while its
author and administrators still see it, marked. A suspension refuses the person's tokens
(shared/identity/auth.py), disables their sign-in account, takes their profile out of sight and
hides what they made (``hidden = 'suspension'``), which a reinstatement brings back; what an
administrator hid for itself stays hidden. Every action is audited, closes the target's open
reports, and is announced so the graph follows. Each is idempotent: a repeat changes nothing
and answers as the first did (a suspension's sign-in step is applied again: it may have failed).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import Field
from sqlalchemy import case, exists, func, select, update

from shared import audit
from shared.db import after_commit
from shared.errors import Conflict
from shared.events import outbox
from shared.market.tables import items
from shared.moderation.reports import Note, resolve_all
from shared.moderation.targets import TARGETS, ContentType, TargetType, find
from shared.tables import media, proposals, users
from shared.types import ApiModel, HiddenBy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer

# Content a suspension hides with its author.
AUTHORED = (items, proposals, media)


class ActionIn(ApiModel):
    model_config = {"extra": "forbid"}

    note: Note = Field(default="", description="why: kept in the audit log and with the reports it closes")


class ModerationOut(ApiModel):
    target_type: TargetType
    target_id: uuid.UUID
    hidden: HiddenBy | None = Field(description="why it is out of public sight now (null: in sight)")
    resolved_reports: int = Field(description="how many open reports this action closed")


def hide(session: Session, admin: Viewer, kind: ContentType, target_id: uuid.UUID, data: ActionIn) -> ModerationOut:
    found = find(session, kind, target_id, for_update=True)
    table = TARGETS[kind].table
    resolved = resolve_all(session, admin, kind, target_id, data.note)
    if found.hidden != "moderation":
        session.execute(update(table).where(table.c.id == target_id).values(
            hidden="moderation", hidden_at=func.now(), **_new_version(table)))
        if kind == "media":
            _avatar(session, target_id, None)
        outbox.emit(session, f"{kind}.hidden", kind, target_id, {"id": str(target_id), "hidden": "moderation"})
    if found.hidden != "moderation" or resolved:  # a repeat that closed reports filed since is on record too
        audit.record(session, admin, "moderation.hidden", kind, target_id, note=data.note, reports=resolved)
    return ModerationOut(target_type=kind, target_id=target_id, hidden="moderation", resolved_reports=resolved)


def restore(session: Session, admin: Viewer, kind: ContentType, target_id: uuid.UUID,
            data: ActionIn) -> ModerationOut:
    """Back in sight; while its author is suspended it stays hidden with them (409 if that is all)."""
    found = find(session, kind, target_id, for_update=True)
    if found.hidden == "suspension":
        raise Conflict("its author is suspended: reinstate them to bring it back")
    table = TARGETS[kind].table
    hidden = None
    if found.hidden == "moderation":
        author_suspended = exists().where(users.c.id == found.owner_id, users.c.suspended_at.is_not(None))
        hidden = session.execute(update(table).where(table.c.id == target_id).values(
            hidden=case((author_suspended, "suspension"), else_=None), hidden_at=func.now(), **_new_version(table),
        ).returning(table.c.hidden)).scalar_one()
        if kind == "media" and hidden is None:
            _avatar(session, target_id, target_id)
        audit.record(session, admin, "moderation.restored", kind, target_id, note=data.note)
        outbox.emit(session, f"{kind}.restored", kind, target_id, {"id": str(target_id), "hidden": hidden})
    return ModerationOut(target_type=kind, target_id=target_id, hidden=hidden, resolved_reports=0)


def _new_version(table) -> dict:
    """A versioned thing (items, proposals) changes its ETag: a cached copy without its mark is stale."""
    return {"version": table.c.version + 1} if "version" in table.c else {}


def _avatar(session: Session, media_id: uuid.UUID, shown: uuid.UUID | None) -> None:
    """A hidden picture leaves the profiles that show it as their avatar; a restored one comes back."""
    from shared.media.media import AVATAR_WIDTH, variant_url
    from shared.models import Media

    url = variant_url(session.get(Media, shown), AVATAR_WIDTH) if shown else None
    session.execute(update(users).where(users.c.avatar_media_id == media_id).values(avatar_url=url))


def suspend(session: Session, admin: Viewer, user_id: uuid.UUID, data: ActionIn,
            sign_in: Callable[[str, bool], None]) -> ModerationOut:
    """Suspend a person: ``sign_in(firebase_uid, disabled)`` runs once the suspension is committed."""
    if user_id == admin.id:
        raise Conflict("you cannot suspend yourself")
    person = _person(session, user_id)
    if person.is_admin:
        raise Conflict("an administrator cannot be suspended")
    resolved = resolve_all(session, admin, "user", user_id, data.note)
    if person.suspended_at is None:
        session.execute(update(users).where(users.c.id == user_id).values(suspended_at=func.now()))
        for table in AUTHORED:
            session.execute(update(table).where(table.c.owner_id == user_id, table.c.hidden.is_(None))
                            .values(hidden="suspension", hidden_at=func.now(), **_new_version(table)))
        audit.record(session, admin, "user.suspended", "user", user_id, note=data.note, reports=resolved)
        outbox.emit(session, "user.suspended", "user", user_id, {"id": str(user_id)})
    if person.firebase_uid:
        after_commit(session, lambda: sign_in(person.firebase_uid, True))
    return ModerationOut(target_type="user", target_id=user_id, hidden="suspension", resolved_reports=resolved)


def reinstate(session: Session, admin: Viewer, user_id: uuid.UUID, data: ActionIn,
              sign_in: Callable[[str, bool], None]) -> ModerationOut:
    person = _person(session, user_id)
    if person.suspended_at is not None:
        session.execute(update(users).where(users.c.id == user_id).values(suspended_at=None))
        for table in AUTHORED:
            session.execute(update(table).where(table.c.owner_id == user_id, table.c.hidden == "suspension")
                            .values(hidden=None, hidden_at=func.now(), **_new_version(table)))
        audit.record(session, admin, "user.reinstated", "user", user_id, note=data.note)
        outbox.emit(session, "user.reinstated", "user", user_id, {"id": str(user_id)})
    if person.firebase_uid:
        after_commit(session, lambda: sign_in(person.firebase_uid, False))
    return ModerationOut(target_type="user", target_id=user_id, hidden=None, resolved_reports=0)


def _person(session: Session, user_id: uuid.UUID):
    find(session, "user", user_id, for_update=True)  # 404 for no one, or an erased account
    return session.execute(select(users.c.firebase_uid, users.c.is_admin, users.c.suspended_at)
                           .where(users.c.id == user_id)).one()
