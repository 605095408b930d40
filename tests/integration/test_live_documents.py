"""Live documents in the Firestore emulator: the notifications function keeps an auction's
state and each person's unread count there, never moving them back; firestore.rules lets
anyone read an auction, each account only its own count, and no client write anything."""
from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import text

from local.firestore import load_rules
from shared.live.documents import put_newer
from shared.live.firestore import Firestore
from tests.conftest import PROJECT
from tests.integration.test_auctions import bid, open_auction  # noqa: F401  (a fixture)
from tests.integration.test_notifications import cast, deliver, notifier  # noqa: F401  (fixtures)


def as_client(path: str, token: str | None, method: str = "GET", body: dict | None = None) -> requests.Response:
    """A request as the web app's SDK makes it: with the person's ID token, held to the rules."""
    url = f"http://{os.environ['FIRESTORE_EMULATOR_HOST']}/v1/projects/{PROJECT}/databases/(default)/documents/{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, headers=headers, json=body, timeout=10)


def fields(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return {name: next(iter(value.values())) for name, value in response.json()["fields"].items()}


def test_bids_move_the_auction_and_the_outbid_count_and_only_their_readers_see_them(
        api, cast, open_auction, notifier, db):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    auction = open_auction(title="Salt Flats")
    assert bid(api, ann, auction, 1000).status_code == 201
    assert bid(api, ben, auction, 1100).status_code == 201
    deliver(notifier, db)

    public = fields(as_client(f"auctions/{auction['id']}", None))
    assert (public["current_price"], public["bid_count"], public["status"]) == ("1100", "2", "open")
    assert not {"leader_id", "bidder_id"} & set(public)
    assert fields(as_client(f"inbox/{ann.uid}", ann.token))["unread"] == "1"
    # Someone else's count, an anonymous reader, any client write: refused by the rules.
    assert as_client(f"inbox/{ann.uid}", ben.token).status_code == 403
    assert as_client(f"inbox/{ann.uid}", None).status_code == 403
    write = {"fields": {"current_price": {"stringValue": "1"}}}
    assert as_client(f"auctions/{auction['id']}", ann.token, "PATCH", write).status_code == 403
    assert as_client(f"inbox/{ann.uid}", ann.token, "PATCH", {"fields": {"unread": {"integerValue": "0"}}}).status_code == 403
    assert as_client("elsewhere/anything", seller.token).status_code == 403


def test_reading_notifications_brings_the_live_count_down(api, cast, open_auction, notifier, db):
    ann, ben = cast["ann"], cast["ben"]
    auction = open_auction(title="Tide Pools")
    for price in (1000, 1200):
        assert bid(api, ann, auction, price).status_code == 201
        assert bid(api, ben, auction, price + 100).status_code == 201
    deliver(notifier, db)
    assert fields(as_client(f"inbox/{ann.uid}", ann.token))["unread"] == "2"

    first = api.get("/api/me/notifications", token=ann.token).get_json()["items"][0]["id"]
    assert api.post("/api/me/notifications/read", token=ann.token, json={"ids": [first]}).get_json() == {
        "unread_count": 1}
    deliver(notifier, db)
    assert fields(as_client(f"inbox/{ann.uid}", ann.token))["unread"] == "1"
    assert api.post("/api/me/notifications/read-all", token=ann.token).get_json() == {"unread_count": 0}
    events = db.execute(text("SELECT count(*) FROM outbox WHERE type = 'notifications.read'")).scalar_one()
    # Marking again changes nothing, and tells no one.
    assert api.post("/api/me/notifications/read-all", token=ann.token).get_json() == {"unread_count": 0}
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'notifications.read'")).scalar_one() == events == 2
    deliver(notifier, db)
    assert fields(as_client(f"inbox/{ann.uid}", ann.token))["unread"] == "0"


def test_an_older_reading_never_replaces_a_newer_one():
    store = Firestore(PROJECT, emulator_host=os.environ["FIRESTORE_EMULATOR_HOST"])
    assert put_newer(store, "auctions/ordering", {"current_price": "200"}, as_of=2_000)
    assert not put_newer(store, "auctions/ordering", {"current_price": "100"}, as_of=1_000)  # a late delivery
    assert not put_newer(store, "auctions/ordering", {"current_price": "200"}, as_of=2_000)  # a repeat
    assert store.get("auctions/ordering").fields == {"current_price": "200", "as_of": 2_000}
    assert put_newer(store, "auctions/ordering", {"current_price": "300"}, as_of=3_000)
    assert store.get("auctions/ordering").fields["current_price"] == "300"


@pytest.fixture
def _rules_restored():
    yield
    load_rules(os.environ["FIRESTORE_EMULATOR_HOST"], PROJECT)


def test_the_rules_file_is_what_the_emulator_enforces(_rules_restored, app_env):
    """A rules file that let everyone read everything would make the other tests fail: the
    emulator enforces what it is given (here, briefly, nothing at all)."""
    load_rules(os.environ["FIRESTORE_EMULATOR_HOST"], PROJECT,
               "rules_version = '2';\nservice cloud.firestore { match /databases/{d}/documents { "
               "match /{doc=**} { allow read: if false; } } }")
    assert as_client("auctions/ordering", None).status_code == 403
