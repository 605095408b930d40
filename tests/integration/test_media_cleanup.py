"""media-cleanup: a committed media deletion's objects are deleted, once, from the media
buckets only; anything else on the topic is not its business."""
from __future__ import annotations

import uuid

from shared import storage
from tests.conftest import MEDIA, UPLOADS
from tests.integration.conftest import push_body


def _deleted(objects: list[dict], **overrides) -> dict:
    media_id = str(uuid.uuid4())
    return {"event_id": str(uuid.uuid4()), "type": "media.deleted", "occurred_at": "2026-11-22T00:00:00Z",
            "aggregate_type": "media", "aggregate_id": media_id, "schema_version": 1,
            "payload": {"id": media_id, "owner_id": str(uuid.uuid4()), "objects": objects}, **overrides}


def _store(bucket: str, name: str) -> dict:
    storage.client().bucket(bucket).blob(name).upload_from_string(b"x")
    return {"bucket": bucket, "name": name}


def _exists(item: dict) -> bool:
    return storage.client().bucket(item["bucket"]).blob(item["name"]).exists()


def test_objects_are_deleted_and_a_redelivery_changes_nothing(cleaner):
    tag = uuid.uuid4().hex
    objects = [_store(UPLOADS, f"uploads/u/{tag}"), _store(MEDIA, f"media/{tag}/256.webp"),
               {"bucket": MEDIA, "name": f"media/{tag}/never-made.avif"}]  # already gone: done
    event = _deleted(objects)
    assert cleaner.post("/", json=push_body(event)).status_code == 200
    assert not any(map(_exists, objects))
    assert cleaner.post("/", json=push_body(event)).status_code == 200


def test_other_events_are_acknowledged_untouched(cleaner):
    kept = _store(MEDIA, f"media/{uuid.uuid4().hex}/keep.webp")
    event = _deleted([kept], type="media.processed")
    assert cleaner.post("/", json=push_body(event)).status_code == 200
    assert _exists(kept)


def test_a_message_naming_another_bucket_deletes_nothing_and_is_refused(cleaner):
    """Refused (non-2xx): Pub/Sub retries it, then moves it to the dead-letter topic."""
    kept = _store(MEDIA, f"media/{uuid.uuid4().hex}/keep.webp")
    for objects in ([kept, {"bucket": "someone-elses-bucket", "name": "precious"}], [{"name": "no bucket"}], None):
        assert cleaner.post("/", json=push_body(_deleted(objects))).status_code >= 400
        assert _exists(kept)
