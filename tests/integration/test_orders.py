"""Buy-now, orders, fulfilment, downloads and refunds (issue 24, decision 0027) against the real
database and the Stripe stand-in: stock is never oversold, money is taken once, and an order is
nobody's business but its buyer's and seller's."""
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.integration.conftest import reset_tables
from tests.integration.test_auctions import CARD, DECLINED_CARD, close_due
from tests.integration.test_payments import intent_status, stripe_client  # noqa: F401  (fixture)
from tests.support import stripe_signing

ADDRESS = {"name": "Ada Obi", "line1": "12 Marina Road", "city": "Lagos", "postal_code": "101231", "country": "NG"}


@pytest.fixture
def shop(people, make_item):
    seller, ann, ben, eve = people("artist", name="Seller"), people("collector"), people("investor"), \
        people("collector")
    return {"seller": seller, "ann": ann, "ben": ben, "eve": eve, "item": make_item(seller, listed=True)}


def buy(api, person, item, *, quantity=1, card=CARD, shipping=ADDRESS, key=None):
    body = {"item_id": item["id"], "quantity": quantity, "payment_method": card,
            **({"shipping": shipping} if shipping is not None else {})}
    return api.post("/api/orders", token=person.token, json=body, headers={"Idempotency-Key": key} if key else None)


def ledger(db) -> dict[str, int]:
    db.rollback()
    return {account: int(total) for account, total in db.execute(text(
        "SELECT account, sum(amount) FROM ledger_entries GROUP BY account"))}


def test_buy_now_charges_once_and_takes_the_stock(api, shop, db):
    item, ann = shop["item"], shop["ann"]
    response = buy(api, ann, item, quantity=2)
    assert response.status_code == 201, response.get_data(as_text=True)
    order = response.get_json()
    assert (order["status"], order["amount"], order["fee"], order["quantity"]) == ("paid", "90000", "9000", 2)
    assert order["shipping"]["city"] == "Lagos" and response.headers["Location"] == f"/api/orders/{order['id']}"
    assert api.get(f"/api/items/{item['id']}").get_json()["inventory"] == 1
    assert ledger(db) == {f"buyer:{ann.id}": -90000, f"seller:{shop['seller'].id}": 81000, "platform:fees": 9000}
    balance = api.get("/api/orders/balance", token=shop["seller"].token).get_json()
    assert balance == {"items": [{"currency": "EUR", "amount": "81000"}]}
    # The last unit, then none: sold out, and the item says so.
    assert buy(api, shop["ben"], item, quantity=2).status_code == 409
    assert buy(api, shop["ben"], item).status_code == 201
    assert api.get(f"/api/items/{item['id']}").get_json()["status"] == "sold"
    assert buy(api, shop["eve"], item).status_code == 409


@pytest.mark.parametrize(("change", "status"), [
    ({"shipping": None}, 422),                                  # a physical item needs an address
    ({"shipping": {**ADDRESS, "country": "FR"}}, 422),          # outside its regions
    ({"shipping": {**ADDRESS, "line1": "a\x00b"}}, 422),
    ({"quantity": 0}, 422), ({"quantity": 101}, 422),
    ({"card": "tok_visa"}, 422),
    ({"card": DECLINED_CARD}, 402),
    ({"quantity": 4}, 409),                                     # three in stock
])
def test_refused_purchases_change_nothing(change, status, api, shop, db):
    before = (api.get(f"/api/items/{shop['item']['id']}").get_json()["inventory"], ledger(db))
    response = buy(api, shop["ann"], shop["item"], **change)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert (api.get(f"/api/items/{shop['item']['id']}").get_json()["inventory"], ledger(db)) == before
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM orders")).scalar() == 0
    assert db.execute(text("SELECT count(*) FROM payment_holds WHERE status IN ('authorised', 'capturing', "
                           "'captured')")).scalar() == 0


def test_who_may_buy_and_see_an_order(api, shop, make_item, db):
    seller, ann, eve = shop["seller"], shop["ann"], shop["eve"]
    assert buy(api, seller, shop["item"]).status_code == 403  # your own
    assert api.post("/api/orders", json={"item_id": shop["item"]["id"], "payment_method": CARD}).status_code == 401
    draft = make_item(seller)
    assert buy(api, ann, draft).status_code in (404, 409)
    order = buy(api, ann, shop["item"]).get_json()
    assert api.get(f"/api/orders/{order['id']}", token=ann.token).status_code == 200
    assert api.get(f"/api/orders/{order['id']}", token=seller.token).status_code == 200
    assert api.get(f"/api/orders/{order['id']}", token=eve.token).status_code == 404  # not even its existence
    assert api.get(f"/api/orders/{uuid.uuid4()}", token=ann.token).status_code == 404
    assert [o["id"] for o in api.get("/api/orders", token=ann.token).get_json()["items"]] == [order["id"]]
    assert [o["id"] for o in api.get("/api/orders?role=seller", token=seller.token).get_json()["items"]] \
        == [order["id"]]
    assert api.get("/api/orders", token=eve.token).get_json()["items"] == []
    assert api.get("/api/orders?role=seller", token=ann.token).get_json()["items"] == []


def test_shipping_and_confirmation(api, shop):
    seller, ann = shop["seller"], shop["ann"]
    order = buy(api, ann, shop["item"]).get_json()
    path = f"/api/orders/{order['id']}"
    assert api.post(f"{path}/confirm", token=ann.token).status_code == 409  # not shipped yet
    assert api.post(f"{path}/ship", token=ann.token, json={"carrier": "DHL"}).status_code == 403
    assert api.post(f"{path}/ship", token=seller.token, json={"carrier": ""}).status_code == 422
    shipped = api.post(f"{path}/ship", token=seller.token, json={"carrier": "DHL", "tracking": "JD0123"})
    assert shipped.status_code == 200 and shipped.get_json()["status"] == "shipped"
    assert api.post(f"{path}/ship", token=seller.token, json={"carrier": "DHL"}).status_code == 409
    assert api.post(f"{path}/confirm", token=seller.token).status_code == 403
    done = api.post(f"{path}/confirm", token=ann.token).get_json()
    assert done["status"] == "fulfilled" and done["fulfilled_at"] and done["tracking"] == "JD0123"


def test_a_bought_file_downloads_a_few_times(api, shop, make_item, processor_upload):
    seller, ann = shop["seller"], shop["ann"]
    item = make_item(seller, listed=True, kind="digital", inventory=None, shipping_regions=[],
                     license="Personal use", file_media_id=processor_upload(seller, "artwork"))
    assert buy(api, ann, item, quantity=2, shipping=None).status_code == 422
    assert buy(api, ann, item, shipping=ADDRESS).status_code == 422  # nothing to ship
    order = buy(api, ann, item, shipping=None).get_json()
    assert order["status"] == "paid" and order["downloads_left"] == 5
    assert api.post(f"/api/orders/{order['id']}/ship", token=seller.token, json={"carrier": "x"}).status_code == 409
    for _ in range(3):
        assert api.get(f"/api/orders/{order['id']}/download", token=ann.token).status_code == 200
    for _ in range(2):  # the item's own route counts against the same order
        assert api.get(f"/api/items/{item['id']}/download", token=ann.token).status_code == 200
    assert api.get(f"/api/orders/{order['id']}/download", token=ann.token).status_code == 409
    assert api.get(f"/api/items/{item['id']}/download", token=ann.token).status_code == 409
    after = api.get(f"/api/orders/{order['id']}", token=ann.token).get_json()
    assert (after["status"], after["downloads_left"]) == ("fulfilled", 0)
    assert api.get(f"/api/orders/{order['id']}/download", token=shop["eve"].token).status_code == 404


def test_a_refund_reverses_the_sale(api, shop, db):
    seller, ann = shop["seller"], shop["ann"]
    order = buy(api, ann, shop["item"]).get_json()
    assert api.post(f"/api/orders/{order['id']}/refund", token=ann.token).status_code == 403
    refunded = api.post(f"/api/orders/{order['id']}/refund", token=seller.token)
    assert refunded.status_code == 200 and refunded.get_json()["status"] == "refunded"
    assert set(ledger(db).values()) == {0}  # every account back where it was
    assert api.get(f"/api/items/{shop['item']['id']}").get_json()["inventory"] == 3  # never shipped: back in stock
    assert api.post(f"/api/orders/{order['id']}/refund", token=seller.token).status_code == 409
    assert db.execute(text("SELECT count(*) FROM ledger_journals")).scalar() == 2  # the sale and its refund


def test_a_purchase_sent_again_with_its_idempotency_key_is_answered_as_the_first_and_charged_once(api, shop, db):
    """A client that lost the answer sends the purchase again under the same key: the same order,
    one authorisation, one journal; the key does not name another purchase; a refusal is repeated."""
    item, ann, ben = shop["item"], shop["ann"], shop["ben"]
    first = buy(api, ann, item, key="retry-1")
    assert first.status_code == 201, first.get_data(as_text=True)
    again = buy(api, ann, item, key="retry-1")
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM payment_holds")).scalar() == 1
    assert ledger(db) == {f"buyer:{ann.id}": -45000, f"seller:{shop['seller'].id}": 40500, "platform:fees": 4500}
    assert buy(api, ann, item, quantity=2, key="retry-1").status_code == 422  # another purchase, same key
    assert buy(api, ben, item, key="retry-1").status_code == 201  # keys are each buyer's own
    for bad in ("", "x" * 65, "a b", "k\u00e9y"):
        refused = api.post("/api/orders", token=ann.token, headers={"Idempotency-Key": bad},
                           json={"item_id": item["id"], "quantity": 1, "payment_method": CARD, "shipping": ADDRESS})
        assert refused.status_code == 422, bad
    declined = buy(api, shop["eve"], item, card=DECLINED_CARD, key="retry-2")
    assert declined.status_code == 402
    assert buy(api, shop["eve"], item, key="retry-2").status_code == 402  # as the first time: nothing tried again
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM payment_holds WHERE user_id = :u"), {"u": shop["eve"].id}).scalar() == 1


def test_the_same_key_sent_twice_at_once_buys_once(api, shop, app_env, db):
    from shared.config import get_settings
    from shared.db import transaction
    from shared.errors import Conflict
    from shared.market import orders
    from shared.models import User
    from shared.payments.stripe_gateway import get_gateway

    data = orders.OrderIn(item_id=shop["item"]["id"], quantity=1, payment_method=CARD, shipping=ADDRESS)
    with transaction() as session:
        buyer = session.get(User, shop["ann"].id)

    def attempt(_) -> str:
        try:
            return str(orders.buy(buyer, data, get_gateway(), get_settings().platform_fee_bps, "same-key"))
        except Conflict:  # the other one is under way
            return "409"

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(attempt, range(4)))
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM orders")).scalar() == 1
    assert db.execute(text("SELECT count(*) FROM payment_holds")).scalar() == 1
    made = db.execute(text("SELECT id FROM orders")).scalar()
    assert set(answers) <= {str(made), "409"} and str(made) in answers


def test_concurrent_buyers_never_oversell(api, shop, people, app_env, db):
    """Twelve buyers of one item with five in stock, all at once: exactly what is there is sold,
    and no buyer who got nothing has money held."""
    from shared.config import get_settings
    from shared.db import transaction
    from shared.errors import Conflict, InvalidTransition
    from shared.market import orders
    from shared.models import User
    from shared.payments.stripe_gateway import get_gateway

    item = api.patch(f"/api/items/{shop['item']['id']}", token=shop["seller"].token, json={"inventory": 5},
                     headers={"If-Match": api.get(f"/api/items/{shop['item']['id']}").headers["ETag"]}).get_json()
    buyers = [people("collector") for _ in range(12)]

    def attempt(person) -> int:
        data = orders.OrderIn(item_id=item["id"], quantity=1, payment_method=CARD, shipping=ADDRESS)
        with transaction() as session:
            buyer = session.get(User, person.id)
        try:  # as the route calls it: no transaction held around it
            orders.buy(buyer, data, get_gateway(), get_settings().platform_fee_bps)
            return 1
        except (Conflict, InvalidTransition):  # sold out: both are the 409 a buyer sees
            return 0

    with ThreadPoolExecutor(max_workers=6) as pool:
        sold = sum(pool.map(attempt, buyers))
    db.rollback()
    assert sold == 5
    assert api.get(f"/api/items/{item['id']}").get_json()["inventory"] == 0
    assert db.execute(text("SELECT count(*) FROM orders WHERE status = 'paid'")).scalar() == 5
    statuses = dict(db.execute(text("SELECT status, count(*) FROM payment_holds GROUP BY status")).all())
    # A buyer refused before paying held nothing; one refused after, had it released.
    assert statuses.pop("captured") == 5 and set(statuses) <= {"released"}


class LostAnswers:
    """The real gateway, but the answers to captures and refunds never arrive (a timeout, a
    crash): what Stripe did, it did; we do not know it."""

    def __init__(self, gateway) -> None:
        self._gateway = gateway

    def __getattr__(self, name):
        return getattr(self._gateway, name)

    def capture(self, key, ref):
        from shared.payments.gateway import PaymentUnavailable

        raise PaymentUnavailable("timeout")

    refund = capture


def _event(ref: str, kind: str) -> tuple[bytes, str]:
    """A Stripe event about intent ``ref``, signed as Stripe signs it."""
    import json

    from shared.config import get_settings

    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": kind,
                       "data": {"object": {"id": ref, "object": "payment_intent"}}}).encode()
    return body, stripe_signing.header(body, get_settings().stripe_webhook_secret)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(taken=st.booleans(), returned=st.booleans(),
       steps=st.lists(st.sampled_from(["collect", "job", "webhook", "refund_job"]), max_size=5))
def test_lost_answers_retries_and_redeliveries_never_double_the_money(taken, returned, steps, api, people, make_item,
                                                                     db, owner_engine, stripe_client):
    """The order's capture, then its refund, lose their answers (Stripe did or did not act);
    then whatever runs again, in any order (a collection, the job, Stripe's event redelivered),
    and the job at last: the sale is posted once, the refund once."""
    from shared.config import get_settings
    from shared.db import transaction
    from shared.market import orders
    from shared.models import User
    from shared.payments.stripe_gateway import get_gateway

    db.rollback()  # the last example's reads hold locks the reset would wait for
    with owner_engine.begin() as conn:  # hypothesis runs examples inside one test: start each clean
        reset_tables(conn)
    seller, buyer = people("artist"), people("collector")
    item = make_item(seller, listed=True)
    with transaction() as session:
        viewer, seller_viewer = session.get(User, buyer.id), session.get(User, seller.id)
    lost = LostAnswers(get_gateway())
    data = orders.OrderIn(item_id=item["id"], payment_method=CARD, shipping=ADDRESS)
    order_id = orders.buy(viewer, data, lost, get_settings().platform_fee_bps)
    db.rollback()
    ref = db.execute(text("SELECT provider_ref FROM payment_holds h JOIN orders o ON o.hold_id = h.id "
                          "WHERE o.id = :o"), {"o": order_id}).scalar_one()
    assert db.execute(text("SELECT status FROM orders WHERE id = :o"), {"o": order_id}).scalar() == "pending"
    db.rollback()
    if taken:
        stripe_client.v1.payment_intents.capture(ref)

    def deliver():
        if taken:  # Stripe tells what it did, as often as it likes
            body, signature = _event(ref, "payment_intent.succeeded")
            response = api.post("/api/payments/stripe", data=body,
                                headers={"Content-Type": "application/json", "Stripe-Signature": signature})
            assert response.status_code == 200

    actions = {"collect": lambda: orders.collect(get_gateway()), "job": close_due, "webhook": deliver,
               "refund_job": orders.finish_refunds}

    def replay():
        for step in steps:
            actions[step]()
        with owner_engine.begin() as conn:  # past the sweep's grace: the job's next tick
            conn.execute(text("UPDATE payment_holds SET updated_at = now() - interval '1 hour'"))
        close_due()

    replay()
    assert intent_status(stripe_client, ref) == "succeeded"
    assert ledger(db) == {f"buyer:{buyer.id}": -45000, f"seller:{seller.id}": 40500, "platform:fees": 4500}
    assert db.execute(text("SELECT status FROM orders WHERE id = :o"), {"o": order_id}).scalar() == "paid"
    db.rollback()

    orders.refund(seller_viewer, order_id, lost)
    db.rollback()
    assert db.execute(text("SELECT status FROM orders WHERE id = :o"), {"o": order_id}).scalar() == "refunding"
    db.rollback()
    if returned:
        stripe_client.v1.refunds.create(params={"payment_intent": ref})
    replay()
    assert set(ledger(db).values()) == {0}
    assert db.execute(text("SELECT status FROM orders WHERE id = :o"), {"o": order_id}).scalar() == "refunded"
    assert dict(db.execute(text("SELECT kind, count(*) FROM ledger_journals GROUP BY kind")).all()) == \
        {"sale": 1, "refund": 1}
    db.rollback()


def test_worldwide_shipping_takes_any_country(api, shop, make_item):
    item = make_item(shop["seller"], listed=True, shipping_regions=["WW"])
    order = buy(api, shop["ann"], item, shipping={**ADDRESS, "country": "JP"})
    assert order.status_code == 201, order.get_data(as_text=True)
    assert (order.get_json()["item_title"], order.get_json()["item_kind"]) == ("Indigo Loom Study", "physical")
