"""A person's own notifications: pages newest first, the unread count, marking read.
Only ever the caller's: every query is bound to the caller's id."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import func, select

from shared.notifications.kinds import READ
from shared.notifications.preferences import KindName
from shared.notifications.tables import notifications
from shared.paging import PageQuery, SortKey, keyset_page
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

CURSOR = "notifications"
MARK_MAX = 100


class NotificationQuery(PageQuery):
    unread: bool = Field(default=False, description="only those not read yet")


class NotificationOut(ApiModel):
    id: uuid.UUID
    kind: KindName
    subject_type: str = Field(description="what it is about: auction, item, proposal, order or user")
    subject_id: str
    title: str
    data: dict[str, str | None]
    created_at: AwareDatetime
    read_at: AwareDatetime | None


class NotificationPage(ApiModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class MarkRead(ApiModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MARK_MAX)]


class UnreadCount(ApiModel):
    unread_count: int


def unread_count(conn: Connection, user_id: uuid.UUID) -> int:
    return conn.execute(select(func.count()).select_from(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None))).scalar_one()


def page(conn: Connection, user_id: uuid.UUID, query: NotificationQuery) -> NotificationPage:
    rows_query = select(notifications).where(notifications.c.user_id == user_id)
    if query.unread:
        rows_query = rows_query.where(notifications.c.read_at.is_(None))
    rows, next_cursor = keyset_page(conn, rows_query, CURSOR + (":unread" if query.unread else ""),
                                    SortKey(notifications.c.created_at, True, datetime.fromisoformat),
                                    notifications.c.id, query.cursor, query.limit)
    return NotificationPage(items=[NotificationOut.model_validate(row, from_attributes=True) for row in rows],
                            next_cursor=next_cursor, unread_count=unread_count(conn, user_id))


def mark_read(session: Session, user_id: uuid.UUID, ids: list[uuid.UUID] | None) -> UnreadCount:
    """The ids named (None: every one) marked read. Idempotent: ids that are not the caller's,
    or read already, change nothing and tell no one."""
    from shared.events import outbox

    conn = session.connection()
    statement = notifications.update().where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if ids is not None:
        statement = statement.where(notifications.c.id.in_(ids))
    if conn.execute(statement.values(read_at=func.now())).rowcount:
        outbox.emit(session, READ, "user", user_id, {"user_id": str(user_id)})
    return UnreadCount(unread_count=unread_count(conn, user_id))
