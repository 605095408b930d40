"""Delivery of digital items: a short-lived signed link to the cleaned original (media/processing.py),
at its pinned generation, for its artist and holder.

Apart from items.py so that the functions that only change items (auction-close) carry no
URL signing and read no bucket settings.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import AwareDatetime

from shared import audit
from shared.config import get_settings
from shared.errors import Forbidden, NotFound
from shared.market.items import get
from shared.media import signing
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

DOWNLOAD_LIFETIME = timedelta(minutes=5)


class Download(ApiModel):
    url: str
    expires_at: AwareDatetime


def download(session: Session, user: User, item_id: uuid.UUID) -> Download:
    """A short-lived link to a digital item's file, for its artist and its holder only."""
    from shared.models import Media

    item, _, holder_id = get(session, item_id, user)
    if item.kind != "digital" or item.file_media_id is None:
        raise NotFound("this item has no file to download")
    if user.id not in (item.owner_id, holder_id):
        raise Forbidden("only the artist and the holder of this item may download its file")
    media = session.get(Media, item.file_media_id)
    if media.original_object is None:  # never the upload itself: its metadata and its URL's reach
        raise NotFound("this item's file is not ready to download")
    settings = get_settings()
    settings.require("uploads_bucket")
    url = signing.signed_download_url(settings.uploads_bucket, media.original_object,
                                      generation=media.original_generation,
                                      filename=f"{item.id}.{media.original_object.rsplit('.', 1)[-1]}",
                                      expires=DOWNLOAD_LIFETIME)
    audit.record(session, user, "item.downloaded", "item", item.id)
    return Download(url=url, expires_at=datetime.now(UTC) + DOWNLOAD_LIFETIME)
