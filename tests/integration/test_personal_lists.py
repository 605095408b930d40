"""Personal lists: my favourites, likes, collection and bids (the caller's only), and the
followers and following of a profile as far as each follow's author made it public."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.integration.test_auctions import _at, _wait_past, bid, close_due


@pytest.fixture
def cast(people):
    return {"seller": people("artist", name="Seller"), "ann": people("collector", name="Ann"),
            "ben": people("investor", name="Ben")}


def listed(api, person, path: str, **query) -> dict:
    response = api.get(path, token=person.token if person else None, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def ids(page: dict) -> list[str]:
    return [entry["id"] for entry in page["items"]]


def test_favourites_and_likes_are_the_callers_own_latest_first(api, cast, make_item):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    first, second = (make_item(seller, listed=True, title=title) for title in ("First", "Second"))
    for item in (first, second):
        assert api.put(f"/api/items/{item['id']}/favorite", token=ann.token).status_code == 200
    assert api.put(f"/api/items/{second['id']}/like", token=ann.token).status_code == 200
    assert ids(listed(api, ann, "/api/me/favorites")) == [second["id"], first["id"]]
    assert ids(listed(api, ann, "/api/me/likes")) == [second["id"]]
    assert ids(listed(api, ben, "/api/me/favorites")) == []
    page = listed(api, ann, "/api/me/favorites", limit=1)
    assert ids(page) == [second["id"]]
    assert ids(listed(api, ann, "/api/me/favorites", limit=1, cursor=page["next_cursor"])) == [first["id"]]
    # An item its seller archived is no longer anyone's to see but the seller's.
    assert api.post(f"/api/items/{first['id']}/archive", token=seller.token).status_code == 200
    assert ids(listed(api, ann, "/api/me/favorites")) == [second["id"]]
    assert api.get("/api/me/favorites").status_code == 401
    assert api.get("/api/me/favorites", token=ann.token, query_string={"cursor": "bm90LW91cnM"}).status_code == 400


def test_my_bids_say_where_each_auction_stands_and_the_won_item_joins_the_collection(
        api, cast, make_item, processor_upload):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    body = {"kind": "digital", "inventory": None, "shipping_regions": [], "license": "Personal use",
            "file_media_id": processor_upload(seller, "artwork")}
    item = make_item(seller, listed=True, title="Tide Chart", **body)
    auction = api.post(f"/api/items/{item['id']}/auctions", token=seller.token,
                       json={"ends_at": _at(4), "starting_price": "10", "min_increment": "1",
                             "extension_seconds": 0}).get_json()
    for person, amount in ((ann, 10), (ben, 11), (ann, 12)):
        assert bid(api, person, auction, amount).status_code == 201
    mine = listed(api, ann, "/api/me/bids")["items"]
    assert [(b["amount"], b["leading"], b["auction_status"], b["title"]) for b in mine] == [
        ("12", True, "open", "Tide Chart"), ("10", False, "open", "Tide Chart")]
    assert [(b["amount"], b["leading"]) for b in listed(api, ben, "/api/me/bids")["items"]] == [("11", False)]
    page = listed(api, ann, "/api/me/bids", limit=1)
    assert [b["amount"] for b in page["items"]] == ["12"]
    assert [b["amount"] for b in listed(api, ann, "/api/me/bids", limit=1, cursor=page["next_cursor"])["items"]] == ["10"]
    assert api.get("/api/me/bids", token=ann.token, query_string={"cursor": "bm90LW91cnM"}).status_code == 400
    assert listed(api, ann, "/api/me/collection")["items"] == []
    _wait_past(auction["ends_at"])
    close_due()
    assert [(b["amount"], b["won"]) for b in listed(api, ann, "/api/me/bids")["items"]] == [("12", True), ("10", True)]
    assert ids(listed(api, ann, "/api/me/collection")) == [item["id"]]
    assert listed(api, ben, "/api/me/collection")["items"] == []


def test_follow_lists_show_only_the_follows_their_authors_made_public(api, cast, people, db):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    cleo = people("collector", name="Cleo")
    for follower in (ann, ben, cleo):
        assert api.post(f"/api/users/{seller.id}/follow", token=follower.token).status_code == 204
    assert api.post(f"/api/users/{ben.id}/follow", token=ann.token).status_code == 204
    # Nobody's follows are public yet: others see none of the seller's followers; the seller sees all.
    assert listed(api, None, f"/api/users/{seller.id}/followers")["items"] == []
    assert ids(listed(api, seller, f"/api/users/{seller.id}/followers")) == [cleo.id, ben.id, ann.id]
    assert api.get(f"/api/users/{ann.id}/following").status_code == 403
    assert ids(listed(api, ann, f"/api/users/{ann.id}/following")) == [ben.id, seller.id]

    changed = api.patch("/api/me", token=ann.token, json={"follows_public": True})
    assert changed.status_code == 200 and changed.get_json()["follows_public"] is True
    assert ids(listed(api, None, f"/api/users/{seller.id}/followers")) == [ann.id]
    assert ids(listed(api, cleo, f"/api/users/{ann.id}/following")) == [ben.id, seller.id]
    assert listed(api, None, f"/api/users/{ann.id}")["follows_public"] is True
    page = listed(api, None, f"/api/users/{ann.id}/following", limit=1)
    assert ids(page) == [ben.id] and ids(listed(api, None, f"/api/users/{ann.id}/following", limit=1,
                                                cursor=page["next_cursor"])) == [seller.id]
    # The counts on the profile stay public, as before.
    assert listed(api, None, f"/api/users/{seller.id}")["followers"] == 3
    # They count whom the lists show: an erased follower no more than a suspended one. (Erasure
    # removes the follows as well; this follow outlived it, as one written around it might.)
    db.execute(text("UPDATE users SET deleted_at = now() WHERE id = :id"), {"id": cleo.id})
    db.commit()
    assert listed(api, None, f"/api/users/{seller.id}")["followers"] == 2
    assert cleo.id not in ids(listed(api, seller, f"/api/users/{seller.id}/followers"))
    assert api.patch("/api/me", token=ann.token, json={"follows_public": None}).status_code == 422
