"""The image-processing job: a finalized upload becomes public variants, or a rejection.

Triggered by the uploads bucket's OBJECT_FINALIZE notification (JSON_API_V1 payload).
The idempotency key is the object generation: the same generation processed twice does
the work once; variant object names are deterministic, so a retry after a crash
overwrites rather than duplicates.
"""
from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from shared.config import get_settings
from shared.events import outbox
from shared.events.consumer import apply_once
from shared.events.envelope import PoisonMessage
from shared.media import images, storage
from shared.media.media import AVATAR_WIDTH, variant_url
from shared.media.public import public_url
from shared.tables import media as media_table
from shared.tables import users

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.db import Work
    from shared.models import Media

logger = logging.getLogger(__name__)
CONSUMER = "image-processing"
CACHE_FOREVER = "public, max-age=31536000, immutable"
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif"}
SOURCE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "AVIF": "image/avif"}
# What buyers pay for: its public variants are previews no larger than this, and the
# original goes only to its artist and holder (market/delivery.py).
SOLD_PURPOSES = ("artwork",)
PREVIEW_EDGE = 1024


def object_from(cloud_event: Any) -> dict[str, Any] | None:
    """The object resource of a finalize notification; None for other notification types."""
    try:
        message = cloud_event.data["message"]
        if message.get("attributes", {}).get("eventType", "OBJECT_FINALIZE") != "OBJECT_FINALIZE":
            return None
        resource = json.loads(base64.b64decode(message["data"], validate=True))
        resource["generation"] = int(resource["generation"])
        resource["size"] = int(resource["size"])
        return resource if resource.get("bucket") and resource.get("name") else None
    except (KeyError, TypeError, ValueError) as error:
        raise PoisonMessage(f"not a storage notification: {error}") from error


def handle_notification(cloud_event: Any) -> None:
    resource = object_from(cloud_event)
    if resource is None:
        return
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"gs://{resource['bucket']}/{resource['name']}#{resource['generation']}")
    apply_once(CONSUMER, key, lambda unit: process_object(unit, resource))


def process_object(unit: Work, resource: dict[str, Any]) -> None:
    settings = get_settings()
    settings.require("uploads_bucket", "media_bucket")
    pending = unit.connection.execute(
        select(media_table.c.id).where(media_table.c.object_name == resource["name"],
                                       media_table.c.status == "pending").with_for_update()
    ).scalar_one_or_none()
    if pending is None:  # processed already, or not an upload we issued
        logger.info("no pending media for %s: nothing to do", resource["name"])
        return
    from shared.models import Media  # only now: the ORM for the one row to change

    session = unit.session
    media = session.get(Media, pending)
    media.generation = resource["generation"]
    if resource["size"] > min(media.max_bytes, settings.upload_max_bytes):
        _reject(session, media, f"the upload is {resource['size']} bytes; {media.max_bytes} were announced")
        return
    blob = storage.client().bucket(resource["bucket"]).blob(resource["name"], generation=resource["generation"])
    for_sale = media.purpose in SOLD_PURPOSES
    try:
        # Streamed in 1 MiB ranges: the compressed upload is never held in memory whole.
        with blob.open("rb", chunk_size=1024 * 1024) as upload:
            result = images.process(upload, max_pixels=settings.max_image_pixels,
                                    max_edge=PREVIEW_EDGE if for_sale else images.LONG_EDGES[-1])
        if for_sale:
            original, original_format = images.clean_original(blob.download_as_bytes(), result.source_format)
    except images.Rejected as rejection:
        _reject(session, media, str(rejection))
        return
    if for_sale:
        media.original_object, media.original_generation = _store_original(
            resource["bucket"], f"originals/{media.id}/{resource['generation']}", original_format, original)

    bucket = storage.client().bucket(settings.media_bucket)
    variants = []
    for rendition in result.renditions:
        name = f"media/{media.id}/{rendition.width}x{rendition.height}.{rendition.format}"
        variant_blob = bucket.blob(name)
        variant_blob.cache_control = CACHE_FOREVER
        variant_blob.upload_from_string(rendition.data, content_type=CONTENT_TYPES[rendition.format])
        variants.append({"format": rendition.format, "width": rendition.width, "height": rendition.height,
                         "bytes": len(rendition.data), "url": public_url(name), "object": name})
    media.status = "ready"
    media.format = result.source_format.lower()
    media.width, media.height, media.bytes = result.width, result.height, resource["size"]
    media.dominant_color, media.placeholder, media.variants = result.dominant_color, result.placeholder, variants
    if media.purpose == "avatar" and media.hidden is None:
        # An avatar attached before it was processed (only a migration does that: copy --media)
        # shows from now on; one its owner chose since stays.
        session.execute(update(users).where(users.c.id == media.owner_id, users.c.avatar_media_id == media.id,
                                            users.c.avatar_url.is_(None))
                        .values(avatar_url=variant_url(media, AVATAR_WIDTH)))
    outbox.emit(session, "media.processed", "media", media.id, {
        "id": str(media.id), "owner_id": str(media.owner_id), "purpose": media.purpose,
        "variants": [{k: v for k, v in variant.items() if k != "object"} for variant in variants],
    })


def _store_original(bucket: str, stem: str, source_format: str, data: bytes) -> tuple[str, int]:
    """Write the cleaned original once, beside the uploads but out of every upload URL's
    reach, named for the upload's generation it was made from; a retry after a crash finds
    it written and takes its generation."""
    from google.api_core.exceptions import PreconditionFailed

    name = f"{stem}.{source_format.lower()}"
    blob = storage.client().bucket(bucket).blob(name)
    try:
        blob.upload_from_string(data, content_type=SOURCE_TYPES[source_format], if_generation_match=0)
    except PreconditionFailed:
        blob.reload()
    return name, int(blob.generation)


def _reject(session: Session, media: Media, reason: str) -> None:
    logger.info("rejected upload %s: %s", media.id, reason)
    media.status = "rejected"
    media.reject_reason = reason
    # The upload goes once this commits (media-cleanup): a redelivery after a failed commit
    # still finds it to reject again.
    outbox.emit(session, "media.rejected", "media", media.id,
                {"id": str(media.id), "owner_id": str(media.owner_id), "reason": reason,
                 "objects": {"uploads": [media.object_name]}})
