"""Favorites and likes: idempotent PUT/DELETE, with counts that stay exact under concurrency.

The row's primary key decides whether a PUT changed anything (INSERT ... ON CONFLICT
DO NOTHING RETURNING); only a real change moves the item's counter, in the same
statement, so concurrent requests can neither double-count nor lose a count.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import text

from shared.events import outbox
from shared.market import items
from shared.market.popularity import WEIGHTS
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.models import User

Kind = Literal["favorite", "like"]


@dataclass(frozen=True)
class _Spec:
    table: str
    counter: str


SPECS = {"favorite": _Spec("favorites", "favorite_count"), "like": _Spec("likes", "like_count")}


class ReactionOut(ApiModel):
    item_id: uuid.UUID
    active: bool
    count: int


def _add(spec: _Spec) -> str:
    return f"""
    WITH added AS (
        INSERT INTO {spec.table} (user_id, item_id) VALUES (:user, :item) ON CONFLICT DO NOTHING RETURNING item_id
    ), bumped AS (
        UPDATE items SET {spec.counter} = {spec.counter} + 1 WHERE id IN (SELECT item_id FROM added)
        RETURNING id
    ), queued AS (
        INSERT INTO popularity_inbox (item_id, weight) SELECT id, :weight FROM bumped
    )
    SELECT count(*) FROM bumped
    """


def _remove(spec: _Spec, *, every_item: bool = False) -> str:
    """Delete one reaction (or all of a user's), lowering each item's counter once; the
    statement answers the items it removed a reaction from."""
    which = "" if every_item else " AND item_id = :item"
    return f"""
    WITH removed AS (
        DELETE FROM {spec.table} WHERE user_id = :user{which} RETURNING item_id
    ), lowered AS (
        UPDATE items SET {spec.counter} = {spec.counter} - 1 WHERE id IN (SELECT item_id FROM removed) RETURNING id
    )
    SELECT item_id FROM removed
    """


def set_reaction(session: Session, user: User, item_id: uuid.UUID, kind: Kind, active: bool) -> ReactionOut:
    """Make the reaction present (PUT) or absent (DELETE); an event only when that changed something."""
    items.read(session, item_id, user)  # 404 for what the user may not see
    spec = SPECS[kind]
    parameters = {"user": user.id, "item": item_id, "weight": WEIGHTS[kind]}
    if active:
        changed = session.execute(text(_add(spec)), parameters).scalar_one()
    else:
        changed = len(session.execute(text(_remove(spec)), parameters).all())
    count = session.execute(text(f"SELECT {spec.counter} FROM items WHERE id = :item"), {"item": item_id}).scalar_one()
    if changed:
        outbox.emit(session, f"{kind}.{'added' if active else 'removed'}", "item", item_id,
                    {"item_id": str(item_id), "user_id": str(user.id)})
    return ReactionOut(item_id=item_id, active=active, count=count)


def withdraw_all(session: Session, user_id: uuid.UUID) -> int:
    """Remove every favorite and like of a user (account erasure): the counters follow, and
    each removal is announced as an unlike or unfavorite is, so the graph loses the edge."""
    withdrawn = 0
    for kind, spec in SPECS.items():
        removed = session.execute(text(_remove(spec, every_item=True)), {"user": user_id}).scalars().all()
        for item_id in removed:
            outbox.emit(session, f"{kind}.removed", "item", item_id, {"item_id": str(item_id), "user_id": str(user_id)})
        withdrawn += len(removed)
    return withdrawn


class MyReactions(ApiModel):
    item_id: uuid.UUID
    favorite: bool
    like: bool


def mine(conn: Connection, user: Viewer, item_id: uuid.UUID) -> MyReactions:
    """Whether the caller has favorited and liked an item (what a page shows its buttons as)."""
    items.read(conn, item_id, user)
    favorite, like = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM favorites WHERE user_id = :user AND item_id = :item),"
        " EXISTS (SELECT 1 FROM likes WHERE user_id = :user AND item_id = :item)"),
        {"user": user.id, "item": item_id}).one()
    return MyReactions(item_id=item_id, favorite=favorite, like=like)
