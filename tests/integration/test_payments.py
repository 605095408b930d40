"""Bids backed by money (issue 24, decision 0027), against the real database and the Stripe
stand-in (localstripe): authorisation on bid, release when outbid, capture from the winner at
close, the ledger, what crashes leave behind, and Stripe's signed webhook."""
import json
import time
import uuid

import pytest
from sqlalchemy import text

from tests.integration.test_auctions import (  # noqa: F401  (fixtures)
    CARD,
    DECLINED_CARD,
    _wait_past,
    bid,
    cast,
    close_due,
    open_auction,
)
from tests.support import stripe_signing


@pytest.fixture
def stripe_client(app_env):
    import stripe

    from shared.config import get_settings

    settings = get_settings()
    return stripe.StripeClient(settings.stripe_secret_key, base_addresses={"api": settings.stripe_api_base})


def holds_of(db, auction) -> dict[str, dict]:
    """The auction's holds by bidder id: status and provider reference."""
    db.rollback()
    rows = db.execute(text("SELECT user_id, status, provider_ref, amount FROM payment_holds WHERE auction_id = :a "
                           "ORDER BY created_at"), {"a": auction["id"]})
    return {str(row.user_id): {"status": row.status, "ref": row.provider_ref, "amount": int(row.amount)}
            for row in rows}


def intent_status(stripe_client, ref: str) -> str:
    return stripe_client.v1.payment_intents.retrieve(ref).status


def auction_state(db, auction) -> tuple:
    db.rollback()
    return tuple(db.execute(text("SELECT status, current_price, leader_id, bid_count FROM auctions WHERE id = :a"),
                            {"a": auction["id"]}).one())


def test_the_uint256_takeover_is_impossible(api, cast, open_auction, make_item, db):
    """Issue 24: any account could bid 2**256-1 EUR, after which nobody could outbid it."""
    auction = open_auction()
    before = auction_state(db, auction)
    for amount in (2**256 - 1, 10**8):  # past any card payment (99,999,999 minor units)
        response = bid(api, cast["ann"], auction, amount)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.headers["Content-Type"] == "application/problem+json"
    unbacked = api.post(f"/api/auctions/{auction['id']}/bids", token=cast["ann"].token, json={"amount": "1000"})
    assert unbacked.status_code == 422
    assert auction_state(db, auction) == before and holds_of(db, auction) == {}
    # Nor can an auction be opened at such prices, or in ETH (its bids would need escrow on chain).
    item = make_item(cast["seller"], listed=True)
    for body in ({"starting_price": str(10**8)}, {"starting_price": "1000", "reserve_price": str(2**256 - 1)}):
        response = api.post(f"/api/items/{item['id']}/auctions", token=cast["seller"].token,
                            json={"ends_at": auction["ends_at"], "min_increment": "1", **body})
        assert response.status_code == 422, response.get_data(as_text=True)
    eth = make_item(cast["seller"], listed=True, currency="ETH", price="1000000000000000")
    response = api.post(f"/api/items/{eth['id']}/auctions", token=cast["seller"].token,
                        json={"ends_at": auction["ends_at"], "starting_price": "1000", "min_increment": "1"})
    assert response.status_code == 409
    # The largest card amount is an ordinary bid.
    assert bid(api, cast["ann"], auction, 99_999_999).status_code == 201


def test_a_declined_card_places_no_bid(api, cast, open_auction, db):
    auction = open_auction()
    before = auction_state(db, auction)
    response = bid(api, cast["ann"], auction, 1000, card=DECLINED_CARD)
    assert response.status_code == 402
    assert response.get_json()["code"] == "payment-declined" and "card_declined" in response.get_json()["detail"]
    assert auction_state(db, auction) == before
    assert [hold["status"] for hold in holds_of(db, auction).values()] == ["failed"]
    unknown = bid(api, cast["ann"], auction, 1000, card="pm_no_such_card")
    assert unknown.status_code == 402 and auction_state(db, auction) == before


def test_only_the_leading_bid_keeps_its_authorisation(api, cast, open_auction, db, stripe_client):
    auction = open_auction()
    ann, ben = cast["ann"].id, cast["ben"].id
    assert bid(api, cast["ann"], auction, 1000).status_code == 201
    first = holds_of(db, auction)[ann]
    assert first["status"] == "authorised" and intent_status(stripe_client, first["ref"]) == "requires_capture"
    assert bid(api, cast["ben"], auction, 1100).status_code == 201
    holds = holds_of(db, auction)
    assert holds[ann]["status"] == "released" and intent_status(stripe_client, first["ref"]) == "canceled"
    assert holds[ben]["status"] == "authorised" and holds[ben]["amount"] == 1100


def test_a_bid_outbid_while_its_card_was_authorised_lets_it_go(api, cast, open_auction, db, stripe_client):
    """Ann's bid passes the first check; while Stripe authorises her card, Ben bids the same
    amount and wins the lock. Ann's bid is refused under the lock and her money let go at once."""
    from shared.market import bidding
    from shared.market.auctions import BidIn
    from shared.payments.stripe_gateway import get_gateway

    auction = open_auction()
    real = get_gateway()

    class BenBidsMeanwhile:
        def __getattr__(self, name):
            return getattr(real, name)

        def confirm(self, key, ref):
            intent = real.confirm(key, ref)
            assert bid(api, cast["ben"], auction, 1000).status_code == 201
            return intent

    from shared.errors import Conflict

    with pytest.raises(Conflict):
        bidding.place_bid(uuid.UUID(cast["ann"].id), uuid.UUID(auction["id"]),
                          BidIn(amount="1000", payment_method=CARD), BenBidsMeanwhile())
    holds = holds_of(db, auction)
    assert holds[cast["ann"].id]["status"] == "released"
    assert intent_status(stripe_client, holds[cast["ann"].id]["ref"]) == "canceled"
    assert holds[cast["ben"].id]["status"] == "authorised"


def test_an_authorisation_cancelled_at_stripe_backs_no_win(api, cast, open_auction, db, stripe_client):
    """Stripe says the leader's authorisation is gone (it lapsed): the event moves the hold,
    and the auction ends unsold without a capture being tried."""
    from tests.integration.test_orders import _event

    auction = open_auction(ends_in=4, extension=0)
    assert bid(api, cast["ann"], auction, 1000).status_code == 201
    ref = holds_of(db, auction)[cast["ann"].id]["ref"]
    stripe_client.v1.payment_intents.cancel(ref)
    body, signature = _event(ref, "payment_intent.canceled")
    response = api.post("/api/payments/stripe", data=body,
                        headers={"Content-Type": "application/json", "Stripe-Signature": signature})
    assert response.get_json() == {"received": True, "applied": "released"}
    _wait_past(auction["ends_at"])
    close_due()
    assert api.get(f"/api/auctions/{auction['id']}").get_json()["outcome"] == "payment_failed"


def test_the_winner_is_charged_once_and_the_sale_is_in_the_ledger(api, cast, open_auction, db, stripe_client):
    auction = open_auction(ends_in=4, extension=0)
    assert bid(api, cast["ann"], auction, 1000).status_code == 201
    assert bid(api, cast["ben"], auction, 1250).status_code == 201
    _wait_past(auction["ends_at"])
    assert close_due() == [{"auction_id": auction["id"], "outcome": "sold"}]
    holds = holds_of(db, auction)
    assert holds[cast["ben"].id]["status"] == "captured"
    assert intent_status(stripe_client, holds[cast["ben"].id]["ref"]) == "succeeded"
    assert intent_status(stripe_client, holds[cast["ann"].id]["ref"]) == "canceled"
    order = db.execute(text("SELECT * FROM orders WHERE auction_id = :a"), {"a": auction["id"]}).one()
    assert (order.status, int(order.amount), int(order.fee), str(order.buyer_id)) == ("paid", 1250, 125, cast["ben"].id)
    entries = db.execute(text("SELECT account, amount FROM ledger_entries ORDER BY account")).all()
    assert {account: int(amount) for account, amount in entries} == {
        f"buyer:{cast['ben'].id}": -1250, f"seller:{cast['seller'].id}": 1125, "platform:fees": 125}
    item = api.get(f"/api/items/{auction['item_id']}").get_json()
    assert item["inventory"] == 2  # one unit of three sold, once
    # Another tick (a retried job, a second instance) takes nothing twice.
    close_due()
    from shared.market.orders import collect
    from shared.payments.stripe_gateway import get_gateway

    collect(get_gateway())
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 3
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'order.paid'")).scalar() == 1
    assert api.get(f"/api/items/{auction['item_id']}").get_json()["inventory"] == 2
    for statement in ("UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_journals"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(text(statement))
        db.rollback()


def test_a_refused_capture_ends_the_auction_unsold(api, cast, open_auction, db, stripe_client):
    auction = open_auction(ends_in=4, extension=0)
    assert bid(api, cast["ann"], auction, 1000).status_code == 201
    # The authorisation lapses at the bank before the end (Stripe cancels it after seven days).
    stripe_client.v1.payment_intents.cancel(holds_of(db, auction)[cast["ann"].id]["ref"])
    _wait_past(auction["ends_at"])
    close_due()
    after = api.get(f"/api/auctions/{auction['id']}").get_json()
    assert (after["status"], after["outcome"], after["winner_id"]) == ("closed", "payment_failed", None)
    db.rollback()
    assert db.execute(text("SELECT status FROM orders WHERE auction_id = :a"), {"a": auction["id"]}).scalar() \
        == "cancelled"
    assert db.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 0
    item = api.get(f"/api/items/{auction['item_id']}").get_json()
    assert (item["status"], item["inventory"]) == ("listed", 3)


def test_what_a_crash_leaves_is_let_go(api, cast, open_auction, db, stripe_client, owner_engine):
    """An authorisation no bid names (the request died after it), and one created but never
    confirmed, are released by the job's sweep once stale; a row never sent is failed."""
    from shared.payments import holds
    from shared.payments.stripe_gateway import get_gateway

    auction = open_auction()
    gateway = get_gateway()
    orphan = holds.authorise(gateway, purpose="bid", user_id=uuid.UUID(cast["ann"].id), amount=1000,
                             currency="EUR", payment_method=CARD, auction_id=uuid.UUID(auction["id"]))
    unconfirmed = gateway.create(str(uuid.uuid4()), amount=500, currency="EUR", payment_method=CARD)
    with owner_engine.begin() as conn:
        never_sent = conn.execute(text(
            "INSERT INTO payment_holds (purpose, user_id, amount, currency) VALUES ('bid', :u, 5, 'EUR') RETURNING id"),
            {"u": cast["ann"].id}).scalar_one()
        sent = conn.execute(text(
            "INSERT INTO payment_holds (purpose, user_id, amount, currency, provider_ref) "
            "VALUES ('bid', :u, 500, 'EUR', :ref) RETURNING id"), {"u": cast["ann"].id, "ref": unconfirmed.id}).scalar_one()
    close_due()  # fresh rows: a live request may still be deciding them
    db.rollback()
    status = dict(db.execute(text("SELECT id, status FROM payment_holds")).all())
    assert status == {orphan: "authorised", never_sent: "pending", sent: "pending"}
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE payment_holds SET updated_at = now() - interval '1 hour'"))
    close_due()
    db.rollback()
    status = dict(db.execute(text("SELECT id, status FROM payment_holds")).all())
    assert status == {orphan: "released", never_sent: "failed", sent: "released"}
    refs = dict(db.execute(text("SELECT id, provider_ref FROM payment_holds")).all())
    assert intent_status(stripe_client, refs[orphan]) == "canceled"
    assert intent_status(stripe_client, unconfirmed.id) == "canceled"


def test_stripe_events_are_verified_and_applied_once(api, cast, open_auction, db, owner_engine, stripe_client):
    """Our capture call's answer was lost; Stripe's signed event says what happened."""
    from shared.config import get_settings

    secret = get_settings().stripe_webhook_secret
    auction = open_auction()
    assert bid(api, cast["ann"], auction, 1000).status_code == 201
    ref = holds_of(db, auction)[cast["ann"].id]["ref"]
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE payment_holds SET status = 'capturing' WHERE provider_ref = :ref"), {"ref": ref})
    stripe_client.v1.payment_intents.capture(ref)
    event = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded",
                        "data": {"object": {"id": ref, "object": "payment_intent", "status": "succeeded"}}}).encode()

    def deliver(body: bytes, signature: str | None):
        headers = {"Content-Type": "application/json", **({"Stripe-Signature": signature} if signature else {})}
        return api.post("/api/payments/stripe", data=body, headers=headers)

    sign = stripe_signing.header
    for forged in (None, sign(event, "whsec_someone_else"), sign(event, secret, at=int(time.time()) - 3600),
                   sign(event + b" ", secret).replace("v1=", "v1=0")):
        response = deliver(event, forged)
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.get_json()["code"] == "signature-rejected"
        assert holds_of(db, auction)[cast["ann"].id]["status"] == "capturing"
    for _ in range(2):  # Stripe delivers at least once
        response = deliver(event, stripe_signing.header(event, secret))
        assert response.status_code == 200 and response.get_json() == {"received": True, "applied": "captured"}
    assert holds_of(db, auction)[cast["ann"].id]["status"] == "captured"
    other = json.dumps({"id": "evt_2", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}).encode()
    assert deliver(other, stripe_signing.header(other, secret)).get_json() == {"received": True, "applied": None}
