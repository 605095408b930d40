"""Views and copies: counted once per viewer, item and half hour, and fed to popularity.

A viewer is the signed-in user, or else a hash of address, user agent and day: the
table never holds an IP address, and an anonymous viewer cannot be followed across days.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict
from sqlalchemy import text

from shared.errors import NotFound
from shared.market.popularity import WEIGHTS
from shared.market.tables import PUBLIC_SQL
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

WINDOW = timedelta(minutes=30)


class TrackIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    action: Literal["view", "copy"]


class TrackOut(ApiModel):
    counted: bool
    view_count: int
    copy_count: int


def viewer_key(user: User | None, address: str, user_agent: str, now: datetime) -> str:
    if user is not None:
        return f"user:{user.id}"
    digest = hashlib.sha256(f"{now.date()}|{address}|{user_agent}".encode()).hexdigest()[:40]
    return f"anon:{digest}"


def window_of(now: datetime) -> datetime:
    seconds = int(WINDOW.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, UTC)


_TRACK = text(f"""
WITH counted AS (
    INSERT INTO analytics_events (item_id, action, viewer, window_start)
    SELECT id, :action, :viewer, :window FROM items WHERE id = :item AND {PUBLIC_SQL}
    ON CONFLICT DO NOTHING
    RETURNING item_id
), bumped AS (
    UPDATE items SET view_count = view_count + CAST(:action = 'view' AS int),
                     copy_count = copy_count + CAST(:action = 'copy' AS int)
    WHERE id IN (SELECT item_id FROM counted)
    RETURNING id
), queued AS (
    INSERT INTO popularity_inbox (item_id, weight) SELECT id, :weight FROM bumped
)
SELECT (SELECT count(*) FROM bumped) AS counted
""")


def track(session: Session, viewer: str, data: TrackIn, now: datetime | None = None) -> TrackOut:
    now = now or datetime.now(UTC)
    counted = session.execute(_TRACK, {"item": data.item_id, "action": data.action, "viewer": viewer,
                                       "window": window_of(now), "weight": WEIGHTS[data.action]}).scalar_one()
    row = session.execute(text(f"SELECT view_count, copy_count FROM items WHERE id = :item AND {PUBLIC_SQL}"),
                          {"item": data.item_id}).one_or_none()
    if row is None:
        raise NotFound("no such item")
    return TrackOut(counted=bool(counted), view_count=row.view_count, copy_count=row.copy_count)
