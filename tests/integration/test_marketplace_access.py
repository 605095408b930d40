"""Marketplace writes: who may do what (owner, another user, anonymous, admin), and bad
input for every endpoint; a refused request changes nothing."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import item_body, snapshot

ACTORS = ("owner", "other", "anonymous", "admin")
SOON = (datetime.now(UTC) + timedelta(days=2)).isoformat()
AUCTION = {"ends_at": SOON, "starting_price": "100", "min_increment": "10"}

# endpoint -> (the item's state, method, path under the item, body, expected status per actor)
ITEM_WRITES = {
    "edit": ("listed", "PATCH", "", {"title": "Changed"}, {"owner": 200, "other": 403, "anonymous": 401, "admin": 403}),
    "list": ("draft", "POST", "/list", None, {"owner": 200, "other": 404, "anonymous": 401, "admin": 403}),
    "unlist": ("listed", "POST", "/unlist", None, {"owner": 200, "other": 403, "anonymous": 401, "admin": 403}),
    "archive": ("listed", "POST", "/archive", None, {"owner": 200, "other": 403, "anonymous": 401, "admin": 403}),
    "favorite": ("listed", "PUT", "/favorite", None, {"owner": 200, "other": 200, "anonymous": 401, "admin": 200}),
    "unfavorite": ("listed", "DELETE", "/favorite", None, {"owner": 200, "other": 200, "anonymous": 401, "admin": 200}),
    "like": ("listed", "PUT", "/like", None, {"owner": 200, "other": 200, "anonymous": 401, "admin": 200}),
    "unlike": ("listed", "DELETE", "/like", None, {"owner": 200, "other": 200, "anonymous": 401, "admin": 200}),
    "auction": ("listed", "POST", "/auctions", AUCTION, {"owner": 201, "other": 403, "anonymous": 401, "admin": 403}),
}


@pytest.fixture
def cast(people):
    return {"owner": people("artist"), "other": people("collector"), "admin": people("investor", admin=True),
            "anonymous": None}


def _call(api, who, method, url, body=None, **kwargs):
    return api.request(method, url, token=who.token if who else None, json=body, **kwargs)


def _check(response, expected, before, db):
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert response.content_type == "application/problem+json"
        assert snapshot(db) == before


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", list(ITEM_WRITES))
def test_item_writes(endpoint, actor, api, cast, make_item, db):
    state, method, suffix, body, expected = ITEM_WRITES[endpoint]
    item = make_item(cast["owner"], listed=state == "listed")
    before = snapshot(db)
    headers = {"If-Match": f'"{item["version"]}"'} if method == "PATCH" else {}
    _check(_call(api, cast[actor], method, f"/api/items/{item['id']}{suffix}", body, headers=headers),
           expected[actor], before, db)


@pytest.mark.parametrize(("actor", "expected"), [("owner", 200), ("other", 403), ("anonymous", 401), ("admin", 403)])
def test_downloading_a_file(actor, expected, api, cast, make_item, processor_upload, db):
    item = make_item(cast["owner"], listed=True, kind="digital", inventory=None, shipping_regions=[],
                     license="Personal use", file_media_id=processor_upload(cast["owner"], "artwork"))
    before = snapshot(db)
    _check(_call(api, cast[actor], "GET", f"/api/items/{item['id']}/download"), expected, before, db)


@pytest.mark.parametrize(("actor", "expected"), [("owner", 201), ("other", 403), ("anonymous", 401), ("admin", 403)])
def test_create_item_is_for_artists(actor, expected, api, cast, db):
    before = snapshot(db)
    _check(_call(api, cast[actor], "POST", "/api/items", item_body()), expected, before, db)


@pytest.fixture
def auction(api, cast, make_item):
    item = make_item(cast["owner"], listed=True)
    return api.post(f"/api/items/{item['id']}/auctions", token=cast["owner"].token, json=AUCTION).get_json()


@pytest.mark.parametrize(("actor", "expected"), [("owner", 403), ("other", 201), ("anonymous", 401), ("admin", 201)])
def test_bidding(actor, expected, api, cast, auction, db):
    before = snapshot(db)
    _check(_call(api, cast[actor], "POST", f"/api/auctions/{auction['id']}/bids",
                 {"amount": "100", "payment_method": "pm_card_visa"}), expected,
           before, db)


@pytest.mark.parametrize(("actor", "expected"), [("owner", 200), ("other", 403), ("anonymous", 401), ("admin", 403)])
def test_cancelling_an_auction(actor, expected, api, cast, auction, db):
    before = snapshot(db)
    _check(_call(api, cast[actor], "POST", f"/api/auctions/{auction['id']}/cancel"), expected, before, db)


CATEGORY_WRITES = [
    ("POST", "/api/categories", {"slug": "ceramics", "name": "Ceramics"}, 201),
    ("PATCH", "/api/categories/textile", {"name": "Textiles", "sort_order": 5}, 200),
    ("DELETE", "/api/categories/textile", None, 204),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), CATEGORY_WRITES)
def test_categories_are_for_admins(method, path, body, allowed, actor, api, cast, db):
    before = snapshot(db)
    expected = {"admin": allowed, "anonymous": 401}.get(actor, 403)
    _check(_call(api, cast[actor], method, path, body), expected, before, db)


def test_category_rename_and_delete_carry_items_along(api, cast, make_item, make_proposal):
    admin = cast["admin"]
    item = make_item(cast["owner"], listed=True, category="textile")
    proposal = make_proposal(cast["owner"], publish=True, category="textile")
    renamed = api.patch("/api/categories/textile", token=admin.token, json={"slug": "fibre-art", "name": "Fibre art"})
    assert renamed.status_code == 200
    assert api.get(f"/api/items/{item['id']}").get_json()["category"] == "fibre-art"
    assert api.get(f"/api/proposals/{proposal['id']}").get_json()["category"] == "fibre-art"
    assert api.patch("/api/categories/sound", token=admin.token, json={"slug": "fibre-art"}).status_code == 409
    assert api.delete("/api/categories/fibre-art", token=admin.token).status_code == 204
    assert api.get(f"/api/items/{item['id']}").get_json()["category"] is None
    listed = [c["slug"] for c in api.get("/api/categories").get_json()["items"]]
    assert "fibre-art" not in listed and listed[0] == "sound"


def test_tags_count_usage_and_complete_prefixes(api, cast, make_item, make_proposal):
    make_item(cast["owner"], tags=["Street Art", "indigo"])
    make_item(cast["owner"], tags=["street-art"])
    make_proposal(cast["owner"], tags=["street_art", "lagos"])
    tags = api.get("/api/tags?prefix=st").get_json()["items"]
    assert tags == [{"slug": "street-art", "usage_count": 3}]
    top = api.get("/api/tags?limit=2").get_json()["items"]
    assert top[0] == {"slug": "street-art", "usage_count": 3}
    assert api.get("/api/tags?prefix=%25").get_json()["items"] == []  # a wildcard is just a character


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("override", [
    {"price": 100}, {"price": "-1"}, {"price": "0"}, {"currency": "XYZ"}, {"kind": "service"},
    {"title": ""}, {"title": "x" * 141}, {"inventory": -1}, {"inventory": "many"}, {"shipping_regions": ["Earth"]},
    {"tags": ["??"]}, {"tags": [f"t{i}" for i in range(11)]}, {"category": "nope"}, {"media_ids": ["not-a-uuid"]},
    {"media_ids": [str(uuid.uuid4())]}, {"file_media_id": str(uuid.uuid4())}, {"status": "listed"},
    {"token": {"chain_id": 31337, "contract": "0x123", "token_id": "1"}}, {"owner_id": str(uuid.uuid4())},
])
def test_bad_item_bodies(override, api, cast, db):
    before = snapshot(db)
    response = api.post("/api/items", token=cast["owner"].token, json=item_body(**override))
    assert response.status_code in (404, 422), (override, response.get_data(as_text=True))
    assert response.content_type == "application/problem+json"
    assert snapshot(db) == before


@pytest.mark.parametrize(("query", "status"), [
    ("sort=cheapest", 422), ("limit=0", 422), ("limit=101", 422), ("min_price=abc&currency=EUR", 422),
    ("cursor=abc", 400), ("owner=me", 422), ("status=deleted", 422), ("tag=%3Cscript%3E", 422), ("x=1", 422),
])
def test_bad_item_queries(query, status, api):
    response = api.get(f"/api/items?{query}")
    assert response.status_code == status and response.content_type == "application/problem+json"


@pytest.mark.parametrize("body", [
    {"amount": 100}, {"amount": "0"}, {"amount": "-5"}, {"amount": "1e3"}, {}, {"amount": "100", "extra": 1},
    # No card, a card that is not a PaymentMethod id, and the 2**256-1 takeover (issue 24).
    {"amount": "100"}, {"amount": "100", "payment_method": "tok_visa"},
    {"amount": str(2**256 - 1), "payment_method": "pm_card_visa"},
    {"amount": "100000000", "payment_method": "pm_card_visa"},
])
def test_bad_bids(body, api, cast, auction, db):
    before = snapshot(db)
    response = api.post(f"/api/auctions/{auction['id']}/bids", token=cast["other"].token, json=body)
    assert response.status_code == 422 and snapshot(db) == before


@pytest.mark.parametrize("override", [
    {"ends_at": "2020-01-01T00:00:00Z"}, {"ends_at": "tomorrow"},
    {"ends_at": (datetime.now(UTC) + timedelta(days=60)).isoformat()},
    {"starts_at": "2020-01-01T00:00:00Z"}, {"starting_price": "0"}, {"min_increment": "0"},
    {"reserve_price": "50"}, {"extension_seconds": 7200}, {"ends_at": datetime.now().isoformat()},
])
def test_bad_auctions(override, api, cast, make_item, db):
    item = make_item(cast["owner"], listed=True)
    before = snapshot(db)
    response = api.post(f"/api/items/{item['id']}/auctions", token=cast["owner"].token, json={**AUCTION, **override})
    assert response.status_code == 422, (override, response.get_data(as_text=True))
    assert snapshot(db) == before


def test_unknown_ids_are_404(api, cast):
    missing = uuid.uuid4()
    for method, path in (("GET", f"/api/items/{missing}"), ("GET", f"/api/auctions/{missing}"),
                         ("GET", f"/api/auctions/{missing}/bids"), ("PUT", f"/api/items/{missing}/like"),
                         ("GET", "/api/items/not-a-uuid"), ("PATCH", "/api/categories/missing")):
        token = cast["admin"].token
        response = api.request(method, path, token=token, json={"name": "x"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
    not_draft = api.post(f"/api/auctions/{missing}/bids", token=cast["other"].token, json={"amount": "5", "payment_method": "pm_card_visa"})
    assert not_draft.status_code == 404


@pytest.mark.parametrize("body", [{"slug": "Not A Slug", "name": "x"}, {"slug": "ok", "name": ""},
                                  {"slug": "ok", "name": "x", "sort_order": 99999}, {"slug": "textile", "name": "Dup"}])
def test_bad_categories(body, api, cast, db):
    before = snapshot(db)
    response = api.post("/api/categories", token=cast["admin"].token, json=body)
    assert response.status_code in (409, 422) and snapshot(db) == before
