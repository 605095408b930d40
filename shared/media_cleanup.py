"""Deleting a media's stored objects after its deletion has committed.

``media.delete`` removes the row and announces ``media.deleted``, naming the objects,
in one transaction; this consumer deletes them. After the commit, so a deletion that
rolls back keeps its files; through the event, so a storage outage only delays the
removal: the failure raises, Pub/Sub retries, then dead-letters. Deleting an object
that is already gone counts as done, so a redelivered event changes nothing.
"""
from __future__ import annotations

import logging

from shared.events import EventEnvelope, PoisonMessage

logger = logging.getLogger(__name__)
DELETED = "media.deleted"


def delete_objects(envelope: EventEnvelope) -> int:
    """The objects a ``media.deleted`` event names, deleted; other events are not ours (0)."""
    if envelope.type != DELETED:
        return 0
    from google.api_core.exceptions import NotFound

    from shared import storage
    from shared.config import get_settings

    settings = get_settings()
    settings.require("uploads_bucket", "media_bucket")
    ours = {settings.uploads_bucket, settings.media_bucket}
    try:
        objects = [(item["bucket"], item["name"]) for item in envelope.payload["objects"]]
    except (KeyError, TypeError) as error:
        raise PoisonMessage(f"{DELETED} {envelope.event_id} does not name its objects: {error!r}") from error
    foreign = sorted({bucket for bucket, _ in objects} - ours)
    if foreign:
        # Only the media buckets: a message is never a licence to delete elsewhere.
        raise PoisonMessage(f"{DELETED} {envelope.event_id} names objects outside the media buckets: {foreign}")
    client = storage.client()
    for bucket, name in objects:
        try:
            client.bucket(bucket).blob(name).delete()
        except NotFound:
            pass
    logger.info("media objects deleted", extra={"media_id": envelope.aggregate_id, "objects": len(objects)})
    return len(objects)
