"""Media end to end on the local stack: signed URL -> upload -> finalize notification ->
image-processing -> variants in the media bucket, rows updated, media.processed published."""
from __future__ import annotations

import io
import json

import pytest
import requests
from PIL import Image

from local.pubsub import emulator_env
from local.stack import Stack, StackConfig
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # The Cloud SDK emulator (LOCAL_PUBSUB=emulator): its observer pulls domain events from it.
    with Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("media-stack"), hosting=False, pubsub="emulator")) as stack:
        yield stack


def _jpeg_with_gps(size=(3000, 2000)) -> bytes:
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise
    exif[0x8825] = {2: (48.0, 51.0, 30.0), 4: (2.0, 17.0, 40.0)}  # GPS latitude/longitude
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _user(stack: Stack, email: str, role: str = "artist") -> dict[str, str]:
    _, token = stack.auth().sign_up(email)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(f"{stack.router_url}/api/register", json={"role": role}, headers=headers, timeout=30).ok
    return headers


def _observer(stack: Stack):
    from google.cloud import pubsub_v1

    with emulator_env(stack.pubsub_host):
        subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack.config.project, "media-test-observer")
    subscriber.create_subscription(name=path, topic=f"projects/{stack.config.project}/topics/domain-events")
    return subscriber, path


def _upload(stack: Stack, headers: dict, data: bytes, content_type: str = "image/jpeg", purpose: str = "avatar") -> dict:
    ticket = requests.post(f"{stack.router_url}/api/media/uploads", headers=headers, timeout=30,
                           json={"purpose": purpose, "content_type": content_type, "size": len(data)})
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    put = requests.put(body["upload_url"], data=data, headers=body["headers"], timeout=30)
    assert put.ok, put.text
    return body["media"]


def _status(stack: Stack, headers: dict, media_id: str) -> dict:
    return requests.get(f"{stack.router_url}/api/media/{media_id}", headers=headers, timeout=30).json()


def test_upload_becomes_stripped_oriented_variants(stack):
    headers = _user(stack, "painter@example.test")
    subscriber, observer = _observer(stack)
    media = _upload(stack, headers, _jpeg_with_gps())

    assert wait_for(lambda: _status(stack, headers, media["id"])["status"] != "pending", timeout=60)
    done = _status(stack, headers, media["id"])
    assert done["status"] == "ready", done
    assert (done["width"], done["height"]) == (2000, 3000)  # upright after EXIF orientation
    assert done["dominant_color"].startswith("#") and done["placeholder"].startswith("data:image/webp;base64,")
    shapes = sorted((v["format"], v["width"], v["height"]) for v in done["variants"])
    assert shapes == sorted((fmt, round(2000 * edge / 3000), edge) for fmt in ("webp", "avif")
                            for edge in (256, 1024, 2048))
    for variant in done["variants"]:
        served = requests.get(variant["url"], timeout=30)
        assert served.ok and len(served.content) == variant["bytes"]
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (variant["width"], variant["height"])
        assert not image.getexif() and "icc_profile" not in image.info

    messages = []
    wait_for(lambda: messages.extend(subscriber.pull(subscription=observer, max_messages=50, timeout=5).received_messages)
             or any(json.loads(m.message.data)["type"] == "media.processed" for m in messages), timeout=30)
    processed = [json.loads(m.message.data) for m in messages if json.loads(m.message.data)["type"] == "media.processed"]
    assert [p["aggregate_id"] for p in processed] == [media["id"]]

    # Only the owner may attach it, and only as what it was uploaded for.
    me = requests.patch(f"{stack.router_url}/api/me", json={"avatar_media_id": media["id"]}, headers=headers, timeout=30)
    assert me.status_code == 200 and me.json()["avatar_url"].endswith(".webp")
    other = _user(stack, "someone@example.test", "collector")
    stolen = requests.patch(f"{stack.router_url}/api/me", json={"avatar_media_id": media["id"]}, headers=other, timeout=30)
    assert stolen.status_code == 404


@pytest.mark.parametrize(("name", "data", "content_type", "reason"), [
    ("text file named .jpg", b"this is not an image at all", "image/jpeg", "not an image"),
    ("truncated JPEG", None, "image/jpeg", "corrupt or truncated"),
])
def test_bad_uploads_are_rejected(stack, name, data, content_type, reason):
    headers = _user(stack, f"bad-{abs(hash(name))}@example.test")
    if data is None:
        data = _jpeg_with_gps((1200, 800))[:20_000]
    media = _upload(stack, headers, data, content_type)
    assert wait_for(lambda: _status(stack, headers, media["id"])["status"] != "pending", timeout=60)
    done = _status(stack, headers, media["id"])
    assert done["status"] == "rejected" and reason in done["reject_reason"]
    assert done["variants"] == []


def test_deleting_media_removes_its_files_through_media_cleanup(stack):
    headers = _user(stack, "deleter@example.test")
    media = _upload(stack, headers, _jpeg_with_gps((800, 600)))
    assert wait_for(lambda: _status(stack, headers, media["id"])["status"] != "pending", timeout=60)
    urls = [variant["url"] for variant in _status(stack, headers, media["id"])["variants"]]
    assert urls and all(requests.get(url, timeout=30).ok for url in urls)
    deleted = requests.delete(f"{stack.router_url}/api/media/{media['id']}", headers=headers, timeout=30)
    assert deleted.status_code == 204
    # media.deleted reaches media-cleanup through Pub/Sub once the deletion has committed.
    assert wait_for(lambda: all(requests.get(url, timeout=30).status_code == 404 for url in urls), timeout=60)
