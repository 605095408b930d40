"""Media: the upload API, the image-processing job on real Storage, and attaching images."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import text

from shared.media import storage
from tests.conftest import MEDIA, UPLOADS
from tests.integration.conftest import deliver_media_cleanups, notify, request_upload, snapshot, upload
from tests.support import images


def media_objects(media_id: str) -> list[str]:
    return [blob.name for blob in storage.client().list_blobs(MEDIA, prefix=f"media/{media_id}/")]


def test_upload_ticket_is_a_signed_put_bound_to_type_and_size(api, people, db):
    ada = people("artist")
    ticket = request_upload(api, ada, b"x" * 5000)
    url = urlparse(ticket["upload_url"])
    query = parse_qs(url.query)
    assert url.path == f"/{UPLOADS}/uploads/{ada.id}/{ticket['media']['id']}"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"] and query["X-Goog-Signature"]
    signed = query["X-Goog-SignedHeaders"][0].split(";")
    assert {"content-type", "x-goog-content-length-range", "x-goog-if-generation-match"} <= set(signed)
    assert ticket["headers"] == {"Content-Type": "image/jpeg", "x-goog-content-length-range": "0,5000",
                                 "x-goog-if-generation-match": "0"}
    assert ticket["media"]["status"] == "pending"


@pytest.mark.parametrize(("body", "status"), [
    ({"purpose": "avatar", "content_type": "text/plain", "size": 10}, 422),
    ({"purpose": "avatar", "content_type": "image/gif", "size": 10}, 422),
    ({"purpose": "banner", "content_type": "image/png", "size": 10}, 422),
    ({"purpose": "avatar", "content_type": "image/png", "size": 0}, 422),
    ({"purpose": "avatar", "content_type": "image/png", "size": 9 * 1024 * 1024}, 413),
])
def test_bad_upload_requests(api, people, db, body, status):
    ada = people("artist")
    before = snapshot(db)
    assert api.post("/api/media/uploads", token=ada.token, json=body).status_code == status
    assert snapshot(db) == before


def _start(api, person, size: int):
    return api.post("/api/media/uploads", token=person.token,
                    json={"purpose": "artwork", "content_type": "image/png", "size": size})


def test_uploads_stop_at_the_accounts_quota_and_pending_count(api, people, db, monkeypatch):
    """Per account (decision 0024): the media it holds plus its live pending uploads stay
    within STORAGE_QUOTA_BYTES; at most MAX_PENDING_UPLOADS are pending at once; a refusal
    is a 409 problem that changes nothing; expired pending uploads count for nothing."""
    from tests.conftest import reset_caches

    ada, bela = people("artist"), people("artist")
    monkeypatch.setenv("STORAGE_QUOTA_BYTES", "10000")
    monkeypatch.setenv("MAX_PENDING_UPLOADS", "3")
    reset_caches()
    try:
        assert [_start(api, ada, 3000).status_code for _ in range(3)] == [201] * 3
        before = snapshot(db)
        refused = _start(api, ada, 100)
        assert refused.status_code == 409 and refused.get_json()["code"] == "quota-exceeded"
        assert "pending" in refused.get_json()["detail"] and snapshot(db) == before
        db.execute(text("UPDATE media SET status = 'ready', bytes = 3000 WHERE owner_id = :id"), {"id": ada.id})
        db.commit()
        assert _start(api, ada, 1000).status_code == 201  # 9,000 held + 1,000 = the quota
        full = _start(api, ada, 1)
        assert full.status_code == 409 and "10000 bytes" in full.get_json()["detail"]
        assert _start(api, bela, 10000).status_code == 201  # another account's quota
        db.execute(text("UPDATE media SET created_at = now() - interval '16 minutes' WHERE owner_id = :id "
                        "AND status = 'pending'"), {"id": ada.id})
        db.commit()
        assert _start(api, ada, 1000).status_code == 201  # the expired pending upload no longer counts
    finally:
        monkeypatch.undo()
        reset_caches()


def test_media_visibility_and_deletion_rights(api, people, processor):
    ada, bela = people("artist"), people("artist")
    pending = request_upload(api, ada, b"x")["media"]
    assert api.get(f"/api/media/{pending['id']}").status_code == 404
    assert api.get(f"/api/media/{pending['id']}", token=bela.token).status_code == 404
    assert api.delete(f"/api/media/{pending['id']}", token=bela.token).status_code == 404
    assert api.post("/api/media/uploads", json={"purpose": "avatar", "content_type": "image/png", "size": 1}).status_code == 401
    ready = upload(api, processor, ada, images.jpeg())
    assert api.get(f"/api/media/{ready['id']}").status_code == 200  # processed images are public
    assert api.delete(f"/api/media/{ready['id']}", token=bela.token).status_code == 403
    assert api.delete(f"/api/media/{ready['id']}").status_code == 401


def test_processing_makes_cached_variants_and_an_event(api, people, processor, db):
    ada = people("artist")
    done = upload(api, processor, ada, images.jpeg((1600, 1200)))
    assert done["status"] == "ready" and (done["width"], done["height"]) == (1600, 1200)
    assert sorted((v["format"], v["width"]) for v in done["variants"]) == [
        ("avif", 256), ("avif", 1024), ("avif", 1600), ("webp", 256), ("webp", 1024), ("webp", 1600)]
    objects = media_objects(done["id"])
    assert len(objects) == 6
    blob = storage.client().bucket(MEDIA).get_blob(objects[0])
    assert blob.cache_control == "public, max-age=31536000, immutable"
    types = db.execute(text("SELECT type FROM outbox WHERE envelope->>'aggregate_id' = :id"), {"id": done["id"]}).scalars().all()
    assert types == ["media.processed"]


def test_same_generation_is_processed_once(api, people, processor, db):
    ada = people("artist")
    ticket = request_upload(api, ada, images.png())
    name = f"uploads/{ada.id}/{ticket['media']['id']}"
    storage.client().bucket(UPLOADS).blob(name).upload_from_string(images.png(), content_type="image/png")
    for _ in range(3):
        assert notify(processor, name) == 200
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'image-processing'")).scalar() == 1
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'media.processed'")).scalar() == 1
    assert len(media_objects(ticket["media"]["id"])) == 4  # 256 and 640, in two formats


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("decompression bomb", images.png_bomb(), "too many pixels"),
    ("truncated JPEG", images.jpeg()[:5000], "corrupt or truncated"),
    ("text file named .jpg", b"GIF89a? no: plain text pretending", "not an image"),
    ("zero bytes", b"", "empty"),
    ("PNG with a huge ancillary chunk", images.png_with_huge_chunk(), "chunk"),
])
def test_hostile_uploads_are_rejected_and_nothing_is_kept(api, people, processor, cleaner, db, name, data, reason):
    ada = people("artist")
    done = upload(api, processor, ada, data)
    assert done["status"] == "rejected" and reason in done["reject_reason"], done
    assert done["variants"] == [] and media_objects(done["id"]) == []
    # The refused upload goes once the rejection has committed, through media-cleanup.
    assert deliver_media_cleanups(cleaner, db, event_type="media.rejected") == 1
    assert storage.client().bucket(UPLOADS).get_blob(f"uploads/{ada.id}/{done['id']}") is None
    db.rollback()
    assert db.execute(text("SELECT type FROM outbox WHERE envelope->>'aggregate_id' = :id"),
                      {"id": done["id"]}).scalars().all() == ["media.rejected"]


def test_upload_larger_than_announced_is_rejected(api, people, processor):
    ada = people("artist")
    data = images.jpeg()
    done = upload(api, processor, ada, data, size=len(data) // 2)
    assert done["status"] == "rejected" and "announced" in done["reject_reason"]


def test_attaching_media(api, people, processor, cleaner, make_proposal, db):
    ada, bela = people("artist"), people("artist")
    avatar = upload(api, processor, ada, images.jpeg())
    cover = upload(api, processor, ada, images.jpeg(), purpose="cover")
    pending = request_upload(api, ada, b"x")["media"]

    me = api.patch("/api/me", token=ada.token, json={"avatar_media_id": avatar["id"]}).get_json()
    assert me["avatar_url"] == next(v["url"] for v in avatar["variants"] if v["format"] == "webp" and v["width"] == 256)
    before = snapshot(db)
    assert api.patch("/api/me", token=ada.token, json={"avatar_media_id": pending["id"]}).status_code == 409
    assert api.patch("/api/me", token=ada.token, json={"avatar_media_id": cover["id"]}).status_code == 409
    assert api.patch("/api/me", token=bela.token, json={"avatar_media_id": avatar["id"]}).status_code == 404
    assert snapshot(db) == before

    proposal = make_proposal(ada)
    url, etag = f"/api/proposals/{proposal['id']}", {"If-Match": f'"{proposal["version"]}"'}
    assert api.patch(url, token=ada.token, json={"cover_media_id": avatar["id"]}, headers=etag).status_code == 409
    updated = api.patch(url, token=ada.token, json={"cover_media_id": cover["id"]}, headers=etag)
    assert updated.status_code == 200 and updated.get_json()["cover_media_id"] == cover["id"]

    # Deleting media detaches it at once; its objects go once media-cleanup has the event.
    assert api.delete(f"/api/media/{avatar['id']}", token=ada.token).status_code == 204
    assert media_objects(avatar["id"])
    assert deliver_media_cleanups(cleaner, db) == 1
    assert media_objects(avatar["id"]) == []
    assert api.get("/api/me", token=ada.token).get_json()["avatar_url"] is None
    db.rollback()
    assert db.execute(text("SELECT avatar_media_id FROM users WHERE id = :id"), {"id": ada.id}).scalar() is None


def test_deleting_media_while_it_is_processed_names_the_variants_processing_wrote(api, people, db, app_env):
    """Processing holds the row while it writes variants; a deletion arriving meanwhile waits for
    it and then names the variants too, so none is left behind in the media bucket."""
    import threading

    from shared.db import get_engine

    ada = people("artist")
    pending = request_upload(api, ada, b"x")["media"]
    variant = {"format": "webp", "width": 1, "height": 1, "bytes": 1, "url": "u", "object": f"media/{pending['id']}/1x1.webp"}
    answer = {}
    with get_engine().connect() as processing, processing.begin():
        processing.execute(text("SELECT id FROM media WHERE id = :id FOR UPDATE"), {"id": pending["id"]})
        deleting = threading.Thread(target=lambda: answer.update(
            status=api.delete(f"/api/media/{pending['id']}", token=ada.token).status_code))
        deleting.start()
        deleting.join(timeout=1.0)
        assert deleting.is_alive()  # waiting for the row
        processing.execute(text("UPDATE media SET status = 'ready', variants = CAST(:v AS jsonb) WHERE id = :id"),
                           {"id": pending["id"], "v": json.dumps([variant])})
    deleting.join(timeout=30)
    assert answer["status"] == 204
    db.rollback()
    event = db.execute(text("SELECT envelope FROM outbox WHERE type = 'media.deleted'")).scalar_one()
    assert event["payload"]["objects"]["media"] == [variant["object"]]
