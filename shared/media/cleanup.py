"""Deleting stored objects once what made them useless has committed.

``media.delete`` removes the row and announces ``media.deleted``, naming the objects, in
one transaction (image-processing likewise announces ``media.rejected`` with the refused
upload); this consumer deletes them. After the commit, so a deletion that rolls back
keeps its files; through the event, so a storage outage only delays the
removal: the failure raises, Pub/Sub retries, then dead-letters. Deleting an object
that is already gone counts as done, so a redelivered event changes nothing.
"""
from __future__ import annotations

import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.events.envelope import EventEnvelope, PoisonMessage

logger = logging.getLogger(__name__)
# The events whose payload names objects to delete.
CLEANED = ("media.deleted", "media.rejected")
ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=1024)]  # GCS's limit


class DeletedObjects(BaseModel):
    """The objects an event names for deletion, by bucket role."""

    model_config = ConfigDict(extra="forbid", strict=True)

    uploads: list[ObjectName] = Field(default_factory=list)
    media: list[ObjectName] = Field(default_factory=list)


def delete_objects(envelope: EventEnvelope) -> int:
    """The objects the event names, deleted; events other than CLEANED are not ours (0)."""
    if envelope.type not in CLEANED:
        return 0
    from google.api_core.exceptions import NotFound

    from shared.config import get_settings
    from shared.media import storage

    try:
        listed = DeletedObjects.model_validate(envelope.payload.get("objects"))
    except ValidationError as error:
        raise PoisonMessage(f"{envelope.type} {envelope.event_id} does not name its objects: {error}") from error
    settings = get_settings()
    settings.require("uploads_bucket", "media_bucket")
    # The buckets are this function's own settings: a message names objects in these two only.
    objects = [(settings.uploads_bucket, name) for name in listed.uploads]
    objects += [(settings.media_bucket, name) for name in listed.media]
    client = storage.client()
    for bucket, name in objects:
        try:
            client.bucket(bucket).blob(name).delete()
        except NotFound:
            pass
    logger.info("media objects deleted", extra={"media_id": envelope.aggregate_id, "objects": len(objects)})
    return len(objects)
