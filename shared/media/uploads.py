"""Starting an upload: a pending media record and a signed PUT URL for the uploads bucket.

Apart from media.py so that the functions that only attach or delete media (registration,
proposals, marketplace) carry no URL signing and read no storage settings.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from shared import audit
from shared.config import UPLOAD_MAX_BYTES, get_settings
from shared.errors import PayloadTooLarge, QuotaExceeded
from shared.media import signing
from shared.media.media import MediaOut, Purpose, to_out
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/avif")
UPLOAD_URL_LIFETIME = timedelta(minutes=15)


class UploadRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    content_type: Literal[ACCEPTED_TYPES]  # type: ignore[valid-type]
    # The published ceiling; the UPLOAD_MAX_BYTES setting may lower it (then: 413).
    size: Annotated[int, Field(gt=0, le=UPLOAD_MAX_BYTES, description="bytes the client will upload")]


class UploadTicket(ApiModel):
    media: MediaOut
    upload_url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(description="send exactly these headers with the PUT")
    expires_at: AwareDatetime


def _within_quota(session: Session, owner: User, size: int, quota: int, max_pending: int) -> None:
    """Refuse an upload that would take the account past its storage quota or its number
    of pending uploads (those whose upload URL still works). The account's row is locked
    first, so two uploads started together are counted one after the other."""
    from sqlalchemy import and_, func, or_, select

    from shared.tables import media, users

    session.execute(select(users.c.id).where(users.c.id == owner.id).with_for_update())
    live_pending = and_(media.c.status == "pending", media.c.created_at > func.now() - UPLOAD_URL_LIFETIME)
    used, pending = session.execute(
        select(func.coalesce(func.sum(func.coalesce(media.c.bytes, media.c.max_bytes)), 0),
               func.count().filter(live_pending))
        .where(media.c.owner_id == owner.id, or_(media.c.status == "ready", live_pending))).one()
    if pending >= max_pending:
        raise QuotaExceeded(f"at most {max_pending} uploads may be pending at once: finish or delete one first")
    if used + size > quota:
        raise QuotaExceeded(f"your media may hold at most {quota} bytes; {used} are used")


def create_upload(session: Session, owner: User, request: UploadRequest) -> UploadTicket:
    from shared.models import Media

    settings = get_settings()
    settings.require("uploads_bucket")
    if request.size > settings.upload_max_bytes:
        raise PayloadTooLarge(f"uploads may be at most {settings.upload_max_bytes} bytes")
    _within_quota(session, owner, request.size, settings.storage_quota_bytes, settings.max_pending_uploads)
    media_id = uuid.uuid4()
    media = Media(id=media_id, owner_id=owner.id, purpose=request.purpose,
                  object_name=f"uploads/{owner.id}/{media_id}", declared_type=request.content_type,
                  max_bytes=request.size)
    session.add(media)
    session.flush()
    session.refresh(media)
    url, headers = signing.signed_upload_url(settings.uploads_bucket, media.object_name,
                                             content_type=request.content_type, max_bytes=request.size,
                                             expires=UPLOAD_URL_LIFETIME)
    audit.record(session, owner, "media.requested", "media", media.id, purpose=media.purpose)
    return UploadTicket(media=to_out(media), upload_url=url, headers=headers,
                        expires_at=datetime.now(UTC) + UPLOAD_URL_LIFETIME)
