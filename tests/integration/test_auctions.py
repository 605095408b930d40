"""Auctions against the real database: bidding rules, concurrency, anti-sniping, closing."""
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import text

from shared.market.auction_close import run
from shared.payments.stripe_gateway import get_gateway

# Test cards of the Stripe stand-in (localstripe): one that authorises, one that is declined.
CARD = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeCustomerFail"


def close_due() -> list[dict]:
    """One tick of the auction-close job, as the function runs it."""
    from shared.config import get_settings

    return run(get_gateway, get_settings().platform_fee_bps)


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def cast(people):
    return {"seller": people("artist", name="Seller"), "ann": people("collector"), "ben": people("investor")}


@pytest.fixture
def open_auction(api, cast, make_item):
    def make(*, ends_in: float = 3600, reserve: str | None = None, extension: int = 300, **item) -> dict:
        listed = make_item(cast["seller"], listed=True, **item)
        body = {"ends_at": _at(ends_in), "starting_price": "1000", "min_increment": "100",
                "extension_seconds": extension, **({"reserve_price": reserve} if reserve else {})}
        response = api.post(f"/api/items/{listed['id']}/auctions", token=cast["seller"].token, json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    return make


def _wait_past(ends_at: str) -> None:
    time.sleep(max(0.0, (datetime.fromisoformat(ends_at) - datetime.now(UTC)).total_seconds()) + 0.2)


def bid(api, person, auction, amount: int, card: str = CARD):
    return api.post(f"/api/auctions/{auction['id']}/bids", token=person.token,
                    json={"amount": str(amount), "payment_method": card})


def test_bidding_rules(api, cast, open_auction, db):
    auction = open_auction()
    assert auction["minimum_bid"] == "1000" and auction["reserve_met"] is None
    assert bid(api, cast["ann"], auction, 999).status_code == 409
    assert bid(api, cast["seller"], auction, 5000).status_code == 403
    accepted = bid(api, cast["ann"], auction, 1000)
    assert accepted.status_code == 201
    assert accepted.get_json()["auction"]["minimum_bid"] == "1100"
    assert bid(api, cast["ben"], auction, 1050).status_code == 409  # below current + increment
    assert bid(api, cast["ben"], auction, 1100).status_code == 201
    log = api.get(f"/api/auctions/{auction['id']}/bids").get_json()["items"]
    assert [(b["amount"], b["bidder_id"]) for b in log] == [("1100", cast["ben"].id), ("1000", cast["ann"].id)]
    first = api.get(f"/api/auctions/{auction['id']}/bids", query_string={"limit": 1}).get_json()
    rest = api.get(f"/api/auctions/{auction['id']}/bids", query_string={"limit": 1, "cursor": first["next_cursor"]})
    assert [b["amount"] for b in first["items"] + rest.get_json()["items"]] == ["1100", "1000"]
    assert rest.get_json()["next_cursor"] is None
    assert api.get(f"/api/auctions/{auction['id']}/bids", query_string={"cursor": "garbage"}).status_code == 400
    # A second auction for the same item, and unlisting during the auction, are refused.
    again = api.post(f"/api/items/{auction['item_id']}/auctions", token=cast["seller"].token,
                     json={"ends_at": _at(600), "starting_price": "1", "min_increment": "1"})
    assert again.status_code == 409
    assert api.post(f"/api/items/{auction['item_id']}/unlist", token=cast["seller"].token).status_code == 409


def test_the_bid_log_is_append_only(api, cast, open_auction, db):
    auction = open_auction()
    bid(api, cast["ann"], auction, 1000)
    db.rollback()
    for statement in ("UPDATE bids SET amount = 1", "DELETE FROM bids"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(text(statement))
        db.rollback()


def test_concurrent_bids_take_each_price_level_once(cast, open_auction, people, db, app_env):
    """Many bidders fire at once at the real database: every accepted bid beats the
    previous one by the increment, and no price level is taken twice."""
    from shared.db import transaction
    from shared.errors import Conflict
    from shared.market.auctions import place_bid
    from shared.models import User

    auction = open_auction()
    bidders = [people("collector") for _ in range(6)]

    def attempt(args):
        person, amount = args
        try:
            with transaction() as session:
                # The lock is the subject here: bids without holds, straight to the domain.
                place_bid(session, session.get(User, person.id), auction["id"], amount, None)
            return amount
        except Conflict:
            return None

    # Everyone tries every level from 1000 to 2000: exactly one bid per level wins.
    attempts = [(person, 1000 + 100 * level) for level in range(11) for person in bidders]
    with ThreadPoolExecutor(max_workers=6) as pool:
        accepted = sorted(a for a in pool.map(attempt, attempts) if a is not None)
    db.rollback()
    logged = [row.amount for row in db.execute(text("SELECT amount FROM bids WHERE auction_id = :a ORDER BY id"),
                                               {"a": auction["id"]})]
    assert logged == sorted(logged) and len(set(logged)) == len(logged)  # strictly increasing in commit order
    assert all(b - a >= 100 for a, b in pairwise(logged))
    assert sorted(int(a) for a in logged) == accepted
    current, count = db.execute(text("SELECT current_price, bid_count FROM auctions WHERE id = :a"),
                                {"a": auction["id"]}).one()
    assert int(current) == max(accepted) and count == len(accepted)


def test_a_late_bid_extends_the_end(api, cast, open_auction):
    auction = open_auction(ends_in=5, extension=120)
    accepted = bid(api, cast["ann"], auction, 1000).get_json()["auction"]
    ends_at = datetime.fromisoformat(accepted["ends_at"])
    assert ends_at > datetime.fromisoformat(auction["ends_at"])
    assert timedelta(seconds=110) < ends_at - datetime.now(UTC) <= timedelta(seconds=120)
    assert accepted["scheduled_end"] == auction["scheduled_end"]


def test_closing_hands_the_item_to_the_winner(api, cast, open_auction, db):
    physical = open_auction(ends_in=5, extension=0)
    unmet = open_auction(ends_in=5, extension=0, reserve="5000")
    empty = open_auction(ends_in=5, extension=0)
    assert bid(api, cast["ann"], physical, 1000).status_code == 201
    assert bid(api, cast["ben"], physical, 1200).status_code == 201
    assert bid(api, cast["ann"], unmet, 1000).status_code == 201
    assert close_due() == []  # nothing has ended yet
    _wait_past(empty["ends_at"])
    assert bid(api, cast["ann"], physical, 5000).status_code == 409  # too late
    closed = {c["auction_id"]: c["outcome"] for c in close_due()}
    assert closed == {physical["id"]: "sold", unmet["id"]: "reserve_not_met", empty["id"]: "no_bids"}
    result = api.get(f"/api/auctions/{physical['id']}").get_json()
    assert result["status"] == "closed" and result["winner_id"] == cast["ben"].id
    item = api.get(f"/api/items/{physical['item_id']}").get_json()
    assert item["inventory"] == 2 and item["status"] == "listed"  # one unit of three sold
    assert api.get(f"/api/auctions/{unmet['id']}").get_json()["reserve_met"] is False
    assert close_due() == []  # closing is done once
    types = [row[0] for row in db.execute(text("SELECT type FROM outbox WHERE type = 'auction.closed'"))]
    assert len(types) == 3


def test_a_digital_item_passes_to_the_winner(api, cast, make_item, processor_upload, db):
    seller = cast["seller"]
    body = {"kind": "digital", "inventory": None, "shipping_regions": [], "license": "Personal use",
            "file_media_id": processor_upload(seller, "artwork")}
    item = make_item(seller, listed=True, **body)
    auction = api.post(f"/api/items/{item['id']}/auctions", token=seller.token,
                       json={"ends_at": _at(4), "starting_price": "10", "min_increment": "1",
                             "extension_seconds": 0}).get_json()
    assert api.get(f"/api/items/{item['id']}/download", token=cast["ann"].token).status_code == 403
    assert bid(api, cast["ann"], auction, 10).status_code == 201
    _wait_past(auction["ends_at"])
    close_due()
    after = api.get(f"/api/items/{item['id']}").get_json()
    assert after["status"] == "sold" and after["holder_id"] == cast["ann"].id
    assert api.get(f"/api/items/{item['id']}/download", token=cast["ann"].token).status_code == 200
    assert api.get(f"/api/items/{item['id']}/download", token=cast["ben"].token).status_code == 403


def test_cancel_only_without_bids(api, cast, open_auction):
    quiet, busy = open_auction(), open_auction()
    bid(api, cast["ann"], busy, 1000)
    assert api.post(f"/api/auctions/{quiet['id']}/cancel", token=cast["ann"].token).status_code == 403
    assert api.post(f"/api/auctions/{quiet['id']}/cancel", token=cast["seller"].token).get_json()["status"] == "cancelled"
    assert api.post(f"/api/auctions/{busy['id']}/cancel", token=cast["seller"].token).status_code == 409
    assert bid(api, cast["ann"], quiet, 2000).status_code == 409


def test_an_items_auctions_newest_first(api, cast, open_auction):
    auction = open_auction()
    assert api.post(f"/api/auctions/{auction['id']}/cancel", token=cast["seller"].token).status_code == 200
    again = api.post(f"/api/items/{auction['item_id']}/auctions", token=cast["seller"].token,
                     json={"ends_at": _at(7200), "starting_price": "5", "min_increment": "1"})
    assert again.status_code == 201, again.get_data(as_text=True)
    listed = api.get(f"/api/items/{auction['item_id']}/auctions").get_json()["items"]
    assert [(a["id"], a["status"]) for a in listed] == [(again.get_json()["id"], "open"), (auction["id"], "cancelled")]
    assert api.get("/api/items/00000000-0000-4000-8000-000000000000/auctions").status_code == 404
