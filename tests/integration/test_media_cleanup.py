"""media-cleanup: the objects a committed media deletion or rejection names are deleted, once,
from the media buckets only; anything else on the topic is not its business."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from shared.events.envelope import EventEnvelope, PoisonMessage
from shared.media import storage
from shared.media.cleanup import delete_objects
from tests.conftest import MEDIA, UPLOADS
from tests.integration.conftest import event_push


def _deleted(objects, **overrides) -> dict:
    media_id = str(uuid.uuid4())
    return {"event_id": str(uuid.uuid4()), "type": "media.deleted", "occurred_at": "2026-11-22T00:00:00Z",
            "aggregate_type": "media", "aggregate_id": media_id, "schema_version": 1,
            "payload": {"id": media_id, "owner_id": str(uuid.uuid4()), "objects": objects}, **overrides}


def _store(bucket: str, name: str) -> tuple[str, str]:
    storage.client().bucket(bucket).blob(name).upload_from_string(b"x")
    return bucket, name


def _exists(item: tuple[str, str]) -> bool:
    bucket, name = item
    return storage.client().bucket(bucket).blob(name).exists()


@pytest.mark.parametrize("event_type", ["media.deleted", "media.rejected"])
def test_objects_are_deleted_and_a_redelivery_changes_nothing(cleaner, db, event_type):
    tag = uuid.uuid4().hex
    upload, variant = _store(UPLOADS, f"uploads/u/{tag}"), _store(MEDIA, f"media/{tag}/256.webp")
    # The event names objects by bucket role; one is already gone, which counts as done.
    event = _deleted({"uploads": [upload[1]], "media": [variant[1], f"media/{tag}/never-made.avif"]},
                     type=event_type)
    assert cleaner.post("/", json=event_push(event)).status_code == 200
    assert not _exists(upload) and not _exists(variant)
    assert cleaner.post("/", json=event_push(event)).status_code == 200
    # Applied once: the redelivery found its record (shared.events.consumer.on_event).
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'media-cleanup' "
                           "AND event_id = :id"), {"id": event["event_id"]}).scalar_one() == 1


def test_other_events_are_acknowledged_untouched(cleaner):
    kept = _store(MEDIA, f"media/{uuid.uuid4().hex}/keep.webp")
    event = _deleted({"media": [kept[1]]}, type="media.processed")
    assert cleaner.post("/", json=event_push(event)).status_code == 200
    assert _exists(kept)


@pytest.mark.parametrize("objects", [
    lambda kept: {"media": [kept], "someone-elses-bucket": ["precious"]},
    lambda kept: {"media": [""]},
    lambda kept: {"media": kept},
    lambda kept: [kept],
    lambda kept: None,
], ids=["an unknown bucket role", "an empty name", "a name, not a list", "not by role", "no objects"])
def test_a_message_naming_other_objects_deletes_nothing_and_is_refused(cleaner, objects):
    """The buckets are the function's own settings, so a message can only name objects in the
    two media buckets; anything else is a poison message (non-2xx: Pub/Sub retries it, then
    moves it to the dead-letter topic)."""
    kept = _store(MEDIA, f"media/{uuid.uuid4().hex}/keep.webp")
    event = _deleted(objects(kept[1]))
    with pytest.raises(PoisonMessage):
        delete_objects(EventEnvelope.model_validate(event))
    assert cleaner.post("/", json=event_push(event)).status_code >= 400
    assert _exists(kept)
