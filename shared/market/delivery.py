"""Delivery of digital items: a short-lived signed link to the cleaned original (media/processing.py),
at its pinned generation, for its artist and holder; a buyer's downloads count against their
order (at most orders.MAX_DOWNLOADS), whichever route they take.

Apart from items.py so that the functions that only change items (auction-close) carry no
URL signing and read no bucket settings.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import AwareDatetime
from sqlalchemy import select

from shared import audit
from shared.config import get_settings
from shared.errors import Conflict, Forbidden, InvalidTransition, NotFound
from shared.market import orders
from shared.market.items import get
from shared.market.tables import orders as order_table
from shared.media import signing
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.market.models import Item
    from shared.models import User

DOWNLOAD_LIFETIME = timedelta(minutes=5)


class Download(ApiModel):
    url: str
    expires_at: AwareDatetime


def download(session: Session, user: User, item_id: uuid.UUID) -> Download:
    """A short-lived link to a digital item's file, for its artist and its holder only."""
    item, _, holder_id = get(session, item_id, user)
    if item.kind != "digital" or item.file_media_id is None:
        raise NotFound("this item has no file to download")
    if user.id not in (item.owner_id, holder_id):
        raise Forbidden("only the artist and the holder of this item may download its file")
    return signed_link(session, user, item)


def signed_link(session: Session, user: User, item: Item) -> Download:
    """The link itself, for a caller already allowed it (the holder, or a buyer's order)."""
    from shared.models import Media

    if item.file_media_id is None:
        raise NotFound("this item has no file to download")
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


def order_download(session: Session, buyer: User, order_id: uuid.UUID) -> Download:
    """A short-lived link to the bought file; counts against the order's downloads."""
    from shared.market.models import Item

    order = orders.locked(session, buyer, order_id, "buyer")
    item = session.get(Item, order.item_id)
    if item.kind != "digital":
        raise NotFound("this order has no file to download")
    if order.status not in ("paid", "fulfilled"):
        raise InvalidTransition(f"the order is {order.status}")
    if order.downloads >= orders.MAX_DOWNLOADS:
        raise Conflict(f"this order's {orders.MAX_DOWNLOADS} downloads are used")
    link = signed_link(session, buyer, item)
    order.downloads += 1
    if order.status == "paid":
        order.status, order.fulfilled_at = "fulfilled", datetime.now(UTC)
        orders.changed(session, buyer, order, "fulfilled")
    return link


def item_download(session: Session, user: User, item_id: uuid.UUID) -> Download:
    """The item's own download route: a buyer's downloads count against their order there too."""
    order_id = session.execute(
        select(order_table.c.id).where(order_table.c.buyer_id == user.id, order_table.c.item_id == item_id,
                                       order_table.c.status.in_(("paid", "fulfilled")))
        .order_by(order_table.c.created_at.desc()).limit(1)).scalar_one_or_none()
    if order_id is not None:
        return order_download(session, user, order_id)
    return download(session, user, item_id)
