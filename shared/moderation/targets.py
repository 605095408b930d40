"""What can be reported and hidden: a proposal, an item, a media record or a person, read the same
way by reports (is it there for the reporter to see?) and by the queue (what is it?)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Table, and_, case, literal, select

from shared.errors import NotFound
from shared.market.tables import items, public_items
from shared.tables import active_user, media, proposals, users

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection
    from sqlalchemy.orm import Session

TargetType = Literal["proposal", "item", "media", "user"]
# What an administrator hides and restores; a person is suspended and reinstated instead.
ContentType = Literal["proposal", "item", "media"]


@dataclass(frozen=True)
class Target:
    table: Table
    label: ColumnElement  # a title, a name or a file's purpose: what the queue shows
    owner: ColumnElement  # whose it is (a person is their own)
    public: ColumnElement  # in sight of anyone
    hidden: ColumnElement  # why it is out of sight: content's column; "suspension" for a suspended person


TARGETS: dict[str, Target] = {
    "proposal": Target(proposals, proposals.c.title, proposals.c.owner_id,
                       and_(proposals.c.status != "draft", proposals.c.hidden.is_(None)), proposals.c.hidden),
    "item": Target(items, items.c.title, items.c.owner_id, public_items(), items.c.hidden),
    "media": Target(media, media.c.purpose, media.c.owner_id,
                    and_(media.c.status == "ready", media.c.hidden.is_(None)), media.c.hidden),
    "user": Target(users, users.c.display_name, users.c.id, active_user(),
                   case((users.c.suspended_at.is_not(None), literal("suspension")), else_=None)),
}


@dataclass(frozen=True)
class Found:
    owner_id: uuid.UUID
    label: str | None
    public: bool
    hidden: str | None  # content: why it is hidden; a person: "suspension" while suspended


def find(db: Connection | Session, kind: str, target_id: uuid.UUID, *, for_update: bool = False) -> Found:
    """The target as moderation sees it; 404 if there is no such thing (or the person is erased)."""
    target = TARGETS[kind]
    query = select(target.owner, target.label, target.public.label("public"), target.hidden.label("hidden")).where(
        target.table.c.id == target_id)
    if kind == "user":
        query = query.where(users.c.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update(of=target.table)
    row = db.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"no such {kind}")
    return Found(row[0], row[1], bool(row.public), row.hidden)
