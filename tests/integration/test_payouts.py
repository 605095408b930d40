"""Payouts of a seller's balance through Stripe Connect (issue 24 point 4, decision 0027).

localstripe has no Connect (404 for accounts, account links and transfers), so the adapter
runs through the official library with an HTTP client that records each request and answers
in the shapes of Stripe's API reference (Account, AccountLink, Transfer, error objects). The
sale that makes the balance goes through the real stand-in."""
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import text
from stripe import _http_client

from tests.integration.test_orders import (  # noqa: F401
    ADDRESS,
    buy,
    shop,
)


class ConnectStripe(_http_client.HTTPClient):
    """Stripe's Connect endpoints as their reference documents them; records every request."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.payouts_enabled = False
        self.transfer_answer = 200  # 400: refused; 500: Stripe failing
        self._lock = threading.Lock()

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        path = urlsplit(url).path
        form = dict(parse_qsl(post_data.decode() if isinstance(post_data, bytes) else post_data or ""))
        with self._lock:
            self.requests.append((method, path, form, dict(headers or {})))
        if method == "post" and path == "/v1/accounts":
            return self._json({"id": "acct_1Seller", "object": "account", "type": "express",
                               "country": form["country"], "payouts_enabled": False, "charges_enabled": False,
                               "metadata": {"user_id": form["metadata[user_id]"]}})
        if method == "get" and path == "/v1/accounts/acct_1Seller":
            return self._json({"id": "acct_1Seller", "object": "account", "type": "express",
                               "payouts_enabled": self.payouts_enabled})
        if method == "post" and path == "/v1/account_links":
            return self._json({"object": "account_link", "created": 1764720000, "expires_at": 1764720300,
                               "url": f"https://connect.stripe.com/setup/e/{form['account']}/Ab12Cd"})
        if method == "post" and path == "/v1/transfers":
            if self.transfer_answer == 400:
                return self._json({"error": {"type": "invalid_request_error", "code": "balance_insufficient",
                                             "message": "Insufficient funds in Stripe account."}}, 400)
            if self.transfer_answer == 500:
                return self._json({"error": {"type": "api_error", "message": "An unknown error occurred"}}, 500)
            return self._json({"id": f"tr_{uuid.uuid4().hex[:14]}", "object": "transfer",
                               "amount": int(form["amount"]), "currency": form["currency"],
                               "destination": form["destination"], "reversed": False})
        return self._json({"error": {"type": "invalid_request_error", "message": f"no {method} {path}"}}, 404)

    @staticmethod
    def _json(body: dict, status: int = 200):
        return json.dumps(body), status, {"Request-Id": "req_test"}

    def close(self):
        pass


@pytest.fixture
def connect(app_env):
    from shared.config import get_settings
    from shared.payments.stripe_gateway import StripeGateway

    recorder = ConnectStripe()
    settings = get_settings()
    return recorder, StripeGateway(settings.stripe_secret_key, settings.stripe_api_base, http_client=recorder)


def balance(db, user_id) -> int:
    db.rollback()
    return int(db.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE account = :a"),
                          {"a": f"seller:{user_id}"}).scalar())


def test_a_seller_is_paid_out_of_their_balance_once(api, shop, connect, db, owner_engine):
    from shared.errors import Conflict
    from shared.payments import payouts

    recorder, gateway = connect
    seller = uuid.UUID(shop["seller"].id)
    assert buy(api, shop["ann"], shop["item"]).status_code == 201  # 45,000 less the 10 % fee
    assert balance(db, seller) == 40500
    with pytest.raises(Conflict, match="connect a payout account"):
        payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="1000"), gateway)

    link = payouts.onboard(seller, payouts.AccountIn(country="de"), gateway, return_url="https://k.example/#/orders")
    assert link.url.startswith("https://connect.stripe.com/") and link.payouts_enabled is False
    method, path, form, headers = recorder.requests[0]
    assert (method, path) == ("post", "/v1/accounts")
    assert form == {"type": "express", "country": "DE", "metadata[user_id]": str(seller),
                    "capabilities[transfers][requested]": "true"}
    assert headers["Idempotency-Key"] == f"account-{seller}:account"
    assert recorder.requests[1][2] == {"account": "acct_1Seller", "type": "account_onboarding",
                                       "refresh_url": "https://k.example/#/orders",
                                       "return_url": "https://k.example/#/orders"}
    payouts.onboard(seller, payouts.AccountIn(country="DE"), gateway, return_url="https://k.example/")
    assert [p for m, p, *_ in recorder.requests].count("/v1/accounts") == 1  # one account per seller
    with pytest.raises(Conflict, match="not set up yet"):
        payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="1000"), gateway)

    recorder.payouts_enabled = True
    paid = payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="1000"), gateway)
    transfer = [r for r in recorder.requests if r[1] == "/v1/transfers"][-1]
    assert transfer[2] == {"amount": "1000", "currency": "eur", "destination": "acct_1Seller",
                           "metadata[payout_id]": str(paid)}
    assert transfer[3]["Idempotency-Key"] == f"{paid}:transfer"
    assert balance(db, seller) == 39500
    with pytest.raises(Conflict, match="more than your balance"):
        payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="39501"), gateway)
    assert balance(db, seller) == 39500

    # Refused: the money goes back to the balance, once.
    recorder.transfer_answer = 400
    refused = payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="500"), gateway)
    assert balance(db, seller) == 39500
    assert payouts.send(refused, gateway) == "failed"
    assert balance(db, seller) == 39500

    # Stripe failing: the payout stays pending (the balance shows it spent); the job's retry,
    # with the same key, pays it.
    recorder.transfer_answer = 500
    pending = payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="2000"), gateway)
    assert balance(db, seller) == 37500
    recorder.transfer_answer = 200
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE payouts SET updated_at = now() - interval '1 hour' WHERE id = :id"), {"id": pending})
    assert payouts.retry_pending(gateway) == 1
    keys = {r[3]["Idempotency-Key"] for r in recorder.requests if r[1] == "/v1/transfers" and str(pending) in r[3]
            ["Idempotency-Key"]}
    assert keys == {f"{pending}:transfer"}
    statuses = {p.id: p.status for p in payouts.of(seller).items}
    assert statuses == {paid: "paid", refused: "failed", pending: "paid"}
    db.rollback()
    journals = dict(db.execute(text("SELECT kind, count(*) FROM ledger_journals GROUP BY kind")).all())
    assert journals == {"sale": 1, "payout": 3, "payout-reversal": 1}


def test_two_payouts_at_once_cannot_both_spend_the_balance(api, shop, connect, db):
    from shared.errors import Conflict
    from shared.payments import payouts

    recorder, gateway = connect
    recorder.payouts_enabled = True
    seller = uuid.UUID(shop["seller"].id)
    assert buy(api, shop["ann"], shop["item"]).status_code == 201
    payouts.onboard(seller, payouts.AccountIn(country="DE"), gateway, return_url="https://k.example/")

    def attempt(_):
        try:
            payouts.request(seller, payouts.PayoutIn(currency="EUR", amount="30000"), gateway)
            return 1
        except Conflict:
            return 0

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(pool.map(attempt, range(4))) == 1
    assert balance(db, seller) == 10500


def test_the_payout_api(api, shop):
    seller = shop["seller"]
    assert api.get("/api/payouts", token=seller.token).get_json() == {"items": []}
    refused = api.post("/api/payouts", token=seller.token, json={"currency": "EUR", "amount": "100"})
    assert refused.status_code == 409 and "connect a payout account" in refused.get_json()["detail"]
    for body in ({"currency": "ETH", "amount": "1"}, {"currency": "EUR", "amount": "0"},
                 {"currency": "EUR", "amount": str(2**256 - 1)}):
        assert api.post("/api/payouts", token=seller.token, json=body).status_code == 422
    assert api.post("/api/payouts", json={"currency": "EUR", "amount": "1"}).status_code == 401
    # The local Stripe has no Connect: the refusal is the provider's, told as such, never a 5xx.
    refused = api.post("/api/payouts/account", token=seller.token, json={"country": "DE"})
    assert refused.status_code == 422 and "Stripe did not open a payout account" in refused.get_json()["detail"]
