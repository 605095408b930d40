"""Items: create, edit, lifecycle, visibility, listing with keyset pagination, caching."""
import pytest
from sqlalchemy import text

from tests.integration.conftest import item_body, snapshot


@pytest.fixture
def ada(people):
    return people("artist", name="Ada")


def test_create_list_and_read(api, ada, make_item, db):
    draft = make_item(ada)
    assert draft["status"] == "draft" and draft["holder_id"] == ada.id and draft["owner_name"] == "Ada"
    assert draft["price"] == "45000" and draft["tags"] == ["weaving", "indigo"] and draft["inventory"] == 3
    # A draft is the owner's alone.
    assert api.get(f"/api/items/{draft['id']}").status_code == 404
    assert api.get(f"/api/items/{draft['id']}", token=ada.token).status_code == 200
    listed = api.post(f"/api/items/{draft['id']}/list", token=ada.token).get_json()
    assert listed["status"] == "listed" and listed["listed_at"]
    public = api.get(f"/api/items/{draft['id']}")
    assert public.status_code == 200 and public.get_json()["title"] == "Indigo Loom Study"
    assert db.execute(text("SELECT usage_count FROM tags WHERE slug = 'weaving'")).scalar() == 1
    types = [row[0] for row in db.execute(text("SELECT type FROM outbox ORDER BY id"))]
    assert types[-2:] == ["item.created", "item.state_changed"]


def test_kind_rules(api, ada, db):
    before = snapshot(db)
    for body in (item_body(inventory=None), item_body(license="CC-BY"),
                 item_body(kind="digital", inventory=None, shipping_regions=["GB"]),
                 item_body(kind="digital", inventory=2, shipping_regions=[]), item_body(price="0"),
                 item_body(category="nope"), item_body(shipping_regions=["Nowhere"])):
        response = api.post("/api/items", token=ada.token, json=body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
    assert snapshot(db) == before


def test_digital_item_needs_its_file_to_be_listed(api, ada, processor_upload):
    body = item_body(kind="digital", inventory=None, shipping_regions=[], license="Personal use, no resale")
    item = api.post("/api/items", token=ada.token, json=body).get_json()
    refused = api.post(f"/api/items/{item['id']}/list", token=ada.token)
    assert refused.status_code == 409 and "file" in refused.get_json()["detail"]
    avatar = processor_upload(ada)  # the wrong purpose
    wrong = api.patch(f"/api/items/{item['id']}", token=ada.token, json={"file_media_id": avatar},
                      headers={"If-Match": f'"{item["version"]}"'})
    assert wrong.status_code == 409
    artwork = processor_upload(ada, "artwork")
    patched = api.patch(f"/api/items/{item['id']}", token=ada.token, json={"file_media_id": artwork},
                        headers={"If-Match": f'"{item["version"]}"'})
    assert patched.status_code == 200 and patched.get_json()["has_file"]
    assert api.post(f"/api/items/{item['id']}/list", token=ada.token).status_code == 200


def test_download_only_for_artist_and_holder(api, ada, people, processor):
    """Issue 22, finding 5: an artwork's public variants are previews (at most 1024 px); its
    original goes only to the artist and holder, without its EXIF, at the generation that was
    checked: writing the upload again through a still-valid upload URL changes nothing."""
    import io

    import requests
    from PIL import Image

    from shared.media import storage
    from tests.conftest import UPLOADS
    from tests.integration.conftest import upload
    from tests.support import images

    photo = images.jpeg_with_gps((2400, 1600))
    artwork = upload(api, processor, ada, photo, purpose="artwork")
    assert max(v["width"] for v in artwork["variants"]) == 1024  # a preview, not the work
    body = item_body(kind="digital", inventory=None, shipping_regions=[], license="Personal use",
                     file_media_id=artwork["id"])
    item = api.post("/api/items", token=ada.token, json=body).get_json()
    api.post(f"/api/items/{item['id']}/list", token=ada.token)
    link = api.get(f"/api/items/{item['id']}/download", token=ada.token)
    assert link.status_code == 200 and "generation=" in link.get_json()["url"]

    def fetched() -> bytes:
        response = requests.get(api.get(f"/api/items/{item['id']}/download", token=ada.token).get_json()["url"],
                                timeout=30)
        assert response.status_code == 200
        return response.content

    original = fetched()
    delivered = Image.open(io.BytesIO(original))
    assert delivered.size == (2400, 1600) and not delivered.getexif() and b"SecretCam" not in original
    assert b"SecretCam" in photo  # the upload had it
    # The artist's upload URL still works for minutes: a new file there is never what buyers get.
    storage.client().bucket(UPLOADS).blob(f"uploads/{ada.id}/{artwork['id']}").upload_from_string(
        images.png((64, 64), "RGB"), content_type="image/png")
    assert fetched() == original
    stranger = people("collector")
    assert api.get(f"/api/items/{item['id']}/download", token=stranger.token).status_code == 403
    assert api.get(f"/api/items/{item['id']}/download").status_code == 401


def test_edit_needs_if_match_and_respects_status(api, ada, make_item):
    item = make_item(ada, listed=True)
    url = f"/api/items/{item['id']}"
    assert api.patch(url, token=ada.token, json={"title": "New"}).status_code == 428
    assert api.patch(url, token=ada.token, json={"title": "New"}, headers={"If-Match": '"999"'}).status_code == 412
    ok = api.patch(url, token=ada.token, json={"title": "New", "tags": ["Street Art", "#Indigo"]},
                   headers={"If-Match": api.get(url).headers["ETag"]})
    assert ok.status_code == 200 and ok.get_json()["tags"] == ["street-art", "indigo"]
    frozen = api.patch(url, token=ada.token, json={"currency": "USD"}, headers={"If-Match": ok.headers["ETag"]})
    assert frozen.status_code == 409
    assert api.patch(url, token=ada.token, json={"price": "0"}, headers={"If-Match": ok.headers["ETag"]}).status_code == 422


def test_public_get_caching(api, ada, people, make_item):
    item = make_item(ada, listed=True)
    url = f"/api/items/{item['id']}"
    first = api.get(url)
    assert first.headers["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    assert "Authorization" in first.headers["Vary"]
    assert api.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # A like changes the representation (its count), so the validator changes too.
    fan = people("collector")
    assert api.put(f"{url}/like", token=fan.token).status_code == 200
    assert api.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    signed_in = api.get(url, token=fan.token)
    assert signed_in.headers["Cache-Control"] == "private, no-store"
    # ...but not the version: an edit based on the first read still applies.
    edited = api.patch(url, token=ada.token, json={"title": "Still fine"}, headers={"If-Match": first.headers["ETag"]})
    assert edited.status_code == 200
    assert api.post("/api/items", token=ada.token, json=item_body()).headers["Cache-Control"] == "private, no-store"


def test_listing_filters_and_keyset_pages(api, ada, people, make_item):
    bo = people("artist", name="Bo")
    made = []
    for i in range(7):
        owner = ada if i % 2 == 0 else bo
        made.append(make_item(owner, listed=True, title=f"Piece {i}", price=str(1000 * (i + 1)),
                              category="textile" if i < 4 else "painting", tags=["series"] if i < 3 else []))
    make_item(ada, title="Hidden draft")

    def collect(query: str) -> list[str]:
        titles, cursor = [], None
        while True:
            url = f"/api/items?{query}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(url).get_json()
            titles += [item["title"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return titles

    assert collect("sort=newest") == [f"Piece {i}" for i in reversed(range(7))]
    assert collect("sort=price_asc&currency=EUR") == [f"Piece {i}" for i in range(7)]
    assert collect("sort=price_desc&currency=EUR&min_price=2000&max_price=5000") == ["Piece 4", "Piece 3", "Piece 2",
                                                                                      "Piece 1"]
    assert collect("category=textile&tag=series") == ["Piece 2", "Piece 1", "Piece 0"]
    assert collect(f"owner={bo.id}") == ["Piece 5", "Piece 3", "Piece 1"]
    mine = api.get(f"/api/items?owner={ada.id}&status=draft", token=ada.token).get_json()["items"]
    assert [i["title"] for i in mine] == ["Hidden draft"]
    assert api.get(f"/api/items?owner={ada.id}&status=draft", token=bo.token).get_json()["items"] == []
    assert api.get("/api/items?sort=price_asc").status_code == 422  # prices compare within a currency


def test_lifecycle(api, ada, make_item):
    item = make_item(ada, listed=True)
    url = f"/api/items/{item['id']}"
    assert api.post(f"{url}/unlist", token=ada.token).get_json()["status"] == "draft"
    assert api.post(f"{url}/archive", token=ada.token).get_json()["status"] == "archived"
    assert api.post(f"{url}/list", token=ada.token).status_code == 409
    assert api.patch(url, token=ada.token, json={"title": "x"}, headers={"If-Match": "*"}).status_code == 409
