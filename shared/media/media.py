"""Media records: status, deletion, and attaching processed images (uploads start in uploads.py)."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field
from sqlalchemy import select, update

from shared import audit
from shared.errors import Conflict, NotFound
from shared.events import outbox
from shared.identity.access import require_owner
from shared.tables import media as media_table
from shared.tables import users
from shared.types import ApiModel, HiddenBy

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.models import Media, User

Purpose = Literal["avatar", "cover", "item", "artwork"]
# A profile shows the smallest variant at least this wide.
AVATAR_WIDTH = 256


class Variant(ApiModel):
    format: Literal["webp", "avif"]
    width: int
    height: int
    bytes: int
    url: str


class MediaOut(ApiModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    purpose: Purpose
    status: Literal["pending", "ready", "rejected"]
    reject_reason: str | None
    width: int | None
    height: int | None
    dominant_color: str | None
    placeholder: str | None = Field(description="a tiny blurred WebP as a data: URI")
    variants: list[Variant]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    hidden: HiddenBy | None = Field(default=None, description="why an administrator took it out of public sight")


def to_out(media: Media | Row) -> MediaOut:
    return MediaOut.model_validate(media, from_attributes=True)


def _check_visible(media: Media | Row | None, viewer: Viewer | None) -> None:
    """Processed media are public (they are avatars and covers); the rest, and what an administrator
    hid, only their owner's (and administrators')."""
    private = media is not None and (media.status != "ready" or media.hidden is not None)
    if media is None or (private and (viewer is None or (viewer.id != media.owner_id and not viewer.is_admin))):
        raise NotFound("no such media")


def read(conn: Connection, media_id: uuid.UUID, viewer: Viewer | None) -> Row:
    media = conn.execute(select(media_table).where(media_table.c.id == media_id)).one_or_none()
    _check_visible(media, viewer)
    return media


def get(session: Session, media_id: uuid.UUID, viewer: Viewer | None) -> Media:
    """A media record as an ORM object to change."""
    from shared.models import Media

    media = session.get(Media, media_id)
    _check_visible(media, viewer)
    return media


def delete(session: Session, user: User, media: Media) -> None:
    """Delete the row now and the stored objects once that has committed: the event names
    them, and media-cleanup deletes them (shared/media/cleanup.py). A deletion that rolls
    back (an erasure Firebase refused) so keeps its files, and a storage outage delays
    their removal without forgetting it."""
    require_owner(user, media.owner_id)
    # Wait for a processing run that holds the row, and name the variants it wrote.
    session.refresh(media, with_for_update=True)
    # By bucket role, not name: the deleting function needs no access to either bucket.
    objects = {"uploads": [media.object_name, *([media.original_object] if media.original_object else [])],
               "media": [variant["object"] for variant in media.variants]}
    session.execute(update(users).where(users.c.avatar_media_id == media.id).values(avatar_url=None))
    session.delete(media)
    session.flush()  # avatar and cover references are cleared by ON DELETE SET NULL
    audit.record(session, user, "media.deleted", "media", media.id)
    outbox.emit(session, "media.deleted", "media", media.id,
                {"id": str(media.id), "owner_id": str(media.owner_id), "objects": objects})


def attachable(session: Session, user: User, media_id: uuid.UUID, purpose: str) -> Media:
    """Media the user may attach: their own, processed, and made for this purpose."""
    from shared.models import Media

    media = session.get(Media, media_id)
    if media is None or media.owner_id != user.id:
        raise NotFound("no such media of yours")
    if media.status != "ready":
        raise Conflict(f"the media is {media.status}: only processed images can be attached")
    if media.hidden is not None:
        raise Conflict("an administrator took this image out of public sight: it cannot be shown again")
    if media.purpose != purpose:
        raise Conflict(f"the media was uploaded as {media.purpose}, not {purpose}")
    return media


def variant_url(media: Media, width: int, fmt: str = "webp") -> str:
    """The smallest variant at least ``width`` wide (or the largest there is)."""
    candidates = sorted((v for v in media.variants if v["format"] == fmt), key=lambda v: v["width"])
    chosen = next((v for v in candidates if v["width"] >= width), candidates[-1])
    return chosen["url"]
