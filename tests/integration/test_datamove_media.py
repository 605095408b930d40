"""A legacy database's pictures move with its rows (issue 26, point 3): ``copy --media`` copies
the objects the loaded rows name, and only those, into the target's buckets through GCS's
own announcement (the storage front), so image-processing makes the uploads into pictures;
``verify --media`` then finds every reference in its bucket, or lists what is missing and
the objects no row names."""
from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import text

from infra.datamove.__main__ import main
from infra.datamove.mapping import legacy_uuid
from local.processes import free_port
from local.pubsub import push_body
from local.router import ThreadedServer
from local.storage import StorageFront
from tests.conftest import MEDIA, PROJECT, UPLOADS
from tests.integration.test_datamove import _sqlite
from tests.support import images

LEGACY_BUCKET = "legacy-site"

LEGACY = """
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, uid TEXT, photo TEXT,
                           avatar INTEGER REFERENCES pictures(id));
    CREATE TABLE pictures (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES accounts(id), path TEXT, mime TEXT);
"""
ROWS = {
    "accounts": [(1, "ada@example.test", "Ada", "uid-ada", "", 30),
                 (2, "bo@example.test", "Bo", "uid-bo", "https://cdn.legacy.test/u/bo%20face.png?v=3", None),
                 (3, "cy@example.test", "Cy", "uid-cy", None, 31),
                 (4, "di@example.test", "Di", "uid-di", "https://cdn.legacy.test/u/di.png", 33)],  # both kept
    "pictures": [(30, 1, "avatars/ada.jpg", "image/jpeg"),
                 (31, 3, "avatars/gone.jpg", "image/jpeg"),     # its file is not in the source
                 (32, 9, "avatars/stray.jpg", "image/jpeg"),    # no account 9: set aside, its file not copied
                 (33, 4, "avatars/di.jpg", "image/jpeg")],
}
MAPPING = """
tables:
  users:
    from: accounts
    columns:
      id: {uuid_from: id}
      firebase_uid: uid
      email: email
      display_name: full_name
      role: {value: artist}
      avatar_media_id: {uuid_from: avatar, table: pictures}
      avatar_url: {from: photo, media: {to: public, under: legacy/, strip: ["https://cdn.legacy.test/"]}}
  media:
    from: pictures
    columns:
      id: {uuid_from: id}
      owner_id: {uuid_from: owner, table: accounts}
      purpose: {value: avatar}
      object_name: {from: path, media: {to: uploads, under: legacy/}}
      declared_type: mime
      max_bytes: {value: 5000000}
"""


@pytest.fixture
def buckets(app_env):
    """The test's own view of both buckets, emptied: what is in them after is this test's."""
    from shared.media import storage

    client = storage.client()
    for bucket in (UPLOADS, MEDIA):
        for blob in client.list_blobs(bucket):
            blob.delete()
    return client


@pytest.fixture
def announced(storage_emulator, monkeypatch):
    """The tool's storage client goes through the storage front, which announces each object
    written into the uploads bucket as GCS does; yields the announcements."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    from shared.media import storage

    messages: list[tuple[bytes, dict[str, str]]] = []
    port = free_port()
    front = ThreadedServer(StorageFront(storage_emulator, {UPLOADS: "media-uploads"},
                                        lambda topic, data, attributes: messages.append((data, attributes))),
                           port, "storage-front")
    front.start()
    client = gcs.Client(project=PROJECT, credentials=AnonymousCredentials(),
                        client_options={"api_endpoint": f"http://127.0.0.1:{port}"})
    monkeypatch.setattr(storage, "client", lambda: client)
    yield messages
    front.stop()


@pytest.fixture(params=["directory", "bucket"])
def legacy(request, tmp_path, buckets):
    """The legacy database, and its pictures in a directory or a bucket; ``put`` adds one."""
    if request.param == "directory":
        files = tmp_path / "files"

        def put(path: str, data: bytes) -> None:
            (files / path).parent.mkdir(parents=True, exist_ok=True)
            (files / path).write_bytes(data)
        spec = str(files)
    else:
        bucket = buckets.bucket(LEGACY_BUCKET)
        if not bucket.exists():
            bucket.create()
        for blob in buckets.list_blobs(LEGACY_BUCKET):
            blob.delete()

        def put(path: str, data: bytes) -> None:
            bucket.blob(f"site/{path}").upload_from_string(data)
        spec = f"gs://{LEGACY_BUCKET}/site"
    put("avatars/ada.jpg", images.jpeg((600, 600)))
    put("avatars/di.jpg", images.jpeg((500, 500)))
    put("avatars/stray.jpg", images.jpeg((300, 300)))
    put("u/bo face.png", images.png((200, 200)))
    put("u/di.png", images.png((100, 100)))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    database = _sqlite(tmp_path, LEGACY, ROWS)
    path = database.execute("PRAGMA database_list").fetchone()[2]
    database.close()
    return {"db": path, "media": spec, "mapping": str(mapping), "put": put}


def _names(client, bucket: str) -> set[str]:
    return {blob.name for blob in client.list_blobs(bucket)}


def test_pictures_arrive_with_their_rows_and_become_pictures(clean_state, owner_engine, database_url, buckets,
                                                             announced, legacy, processor, tmp_path, capsys):
    copy = ["copy", "--source", legacy["db"], "--mapping", legacy["mapping"], "--target", database_url,
            "--media", legacy["media"]]
    assert main(copy) == 1  # a row set aside, and a picture the source lacks
    out, err = capsys.readouterr()
    assert "media: copied 4 objects, 0 there already, 1 not in" in out and ", 0 failed" in out
    assert "not in the source: avatars/gone.jpg" in err
    # Only what the loaded rows name: the set-aside picture's file stayed behind.
    assert _names(buckets, UPLOADS) == {"legacy/avatars/ada.jpg", "legacy/avatars/di.jpg"}
    assert _names(buckets, MEDIA) == {"legacy/u/bo face.png", "legacy/u/di.png"}
    public = os.environ["MEDIA_PUBLIC_URL"].rstrip("/")
    with owner_engine.connect() as conn:
        avatars = dict(conn.execute(text("SELECT firebase_uid, avatar_url FROM users")).all())
        assert avatars == {"uid-ada": None, "uid-bo": f"{public}/legacy/u/bo%20face.png", "uid-cy": None,
                           "uid-di": f"{public}/legacy/u/di.png"}
        assert conn.execute(text("SELECT object_name, status FROM media ORDER BY object_name")).all() == [
            ("legacy/avatars/ada.jpg", "pending"), ("legacy/avatars/di.jpg", "pending"),
            ("legacy/avatars/gone.jpg", "pending")]

    # GCS announced the uploads; image-processing makes them pictures, and Ada's avatar shows
    # (Di's own stays as it was).
    assert sorted(attributes["objectId"] for _, attributes in announced) == [
        "legacy/avatars/ada.jpg", "legacy/avatars/di.jpg"]
    for data, attributes in announced:
        assert processor.post("/", json=push_body(json.loads(data), **attributes)).status_code == 200
    with owner_engine.connect() as conn:
        ada = conn.execute(text("SELECT status, variants FROM media WHERE id = :id"),
                           {"id": legacy_uuid("pictures", 30)}).one()
        assert ada.status == "ready" and ada.variants
        avatars = dict(conn.execute(text("SELECT firebase_uid, avatar_url FROM users")).all())
        assert avatars["uid-ada"] in {variant["url"] for variant in ada.variants}
        assert avatars["uid-di"] == f"{public}/legacy/u/di.png"
        variants = conn.execute(text("SELECT sum(jsonb_array_length(variants)) FROM media")).scalar_one()
    buckets.bucket(MEDIA).blob("stray/left.bin").upload_from_string(b"x")  # nobody's

    report = tmp_path / "media.json"
    verify = ["verify", "--media", "--target", database_url, "--json", str(report)]
    assert main(verify) == 1
    found = json.loads(report.read_text())["media"]
    gone = str(legacy_uuid("pictures", 31))
    assert found["unresolved"] == [{"what": "media.object_name", "key": gone, "reference": "legacy/avatars/gone.jpg",
                                    "problem": f"no object 'legacy/avatars/gone.jpg' in {UPLOADS}"}]
    # Bo's and Di's pictures were copied as they are: the media bucket holds them, no row of
    # media names them, but a profile does.
    assert found["orphaned"] == {"uploads": [], "media": ["stray/left.bin"]}
    assert found["references"]["users.avatar_url"] == {"references": 3, "resolved": 3}
    assert found["references"]["media.variants[].url"] == {"references": variants, "resolved": variants}
    assert "stray/left.bin" in capsys.readouterr().out

    # The missing picture turns up: copying again brings only it, and everything resolves.
    legacy["put"]("avatars/gone.jpg", images.jpeg((400, 400)))
    assert main(copy) == 1  # the rows are all there already (and reported so)
    assert "media: copied 1 objects, 4 there already, 0 not in" in capsys.readouterr().out
    assert "legacy/avatars/gone.jpg" in _names(buckets, UPLOADS)
    buckets.bucket(MEDIA).blob("stray/left.bin").delete()
    assert main(verify) == 0
    assert json.loads(report.read_text())["media"]["resolved"] is True


def test_a_dry_run_counts_the_objects_the_rows_would_name_and_copies_none(clean_state, owner_engine, database_url,
                                                                        buckets, announced, legacy, capsys):
    assert main(["copy", "--source", legacy["db"], "--mapping", legacy["mapping"], "--target", database_url,
                 "--media", legacy["media"], "--dry-run"]) == 1
    assert "media: would copy 4 objects, 0 there already, 1 not in" in capsys.readouterr().out
    assert _names(buckets, UPLOADS) == _names(buckets, MEDIA) == set() and not announced
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM media")).scalar_one() == 0


def test_an_upload_asked_for_and_never_sent_is_not_missing(clean_state, owner_engine, database_url, buckets, api,
                                                            people, tmp_path):
    """On a live platform a person may ask for an upload URL and never use it: its row names
    an object nobody owed, at any age."""
    from tests.integration.conftest import request_upload

    request_upload(api, people(), images.jpeg((64, 64)))
    report = tmp_path / "media.json"
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE media SET created_at = now() - interval '1 day'"))
    assert main(["verify", "--media", "--target", database_url, "--json", str(report)]) == 0
    assert json.loads(report.read_text())["media"]["references"]["media.object_name"] == {
        "references": 1, "not uploaded": 1}
    with owner_engine.begin() as conn:  # processed, then lost: missing
        conn.execute(text("UPDATE media SET status = 'ready'"))
    assert main(["verify", "--media", "--target", database_url]) == 1
