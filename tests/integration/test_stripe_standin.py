"""What the project relies on from the local Stripe (localstripe, local/stripe.py), through the
official `stripe` library as functions call it, and where it differs from Stripe: each gap the
payments code must not depend on locally is pinned here, so that a new localstripe says so."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from local.stripe import SECRET_KEY, WEBHOOK_SECRET, register_webhook
from shared.payments.webhook import signed_by

CARD = {"exp_month": 12, "exp_year": 2030, "cvc": "123"}
VISA = "4242424242424242"
# The one card number localstripe declines when a PaymentIntent is confirmed (Stripe's
# "attaching succeeds, charging fails" card, pm_card_chargeCustomerFail).
DECLINED_ON_CHARGE = "4000000000000341"
# Stripe's generic decline card: localstripe declines it only when attached to a customer.
DECLINED_ON_ATTACH = "4000000000000002"


@pytest.fixture(scope="module")
def client(stripe_server) -> stripe.StripeClient:
    # No retries: a 5xx is asserted as it comes, and localstripe would not dedupe a retried
    # POST by its Idempotency-Key anyway (see test_idempotency_keys_are_ignored).
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_server}, max_network_retries=0)


def card(client: stripe.StripeClient, number: str = VISA) -> str:
    return client.v1.payment_methods.create(params={"type": "card", "card": {"number": number, **CARD}}).id


def authorise(client: stripe.StripeClient, amount: int, payment_method: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "eur", "payment_method": payment_method,
        "capture_method": "manual", "confirm": True, "metadata": {"bid": "b1"},
    })


class Hook:
    """A tiny webhook endpoint: keeps each request's body and Stripe-Signature header."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/payments/stripe"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[stripe.Event]:
        return [stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET) for body, header in self.received]

    def wait_for(self, wanted: set[tuple[str, str]], timeout: float = 15) -> list[stripe.Event]:
        """Until every (event type, object id) in ``wanted`` arrived; localstripe sends each ~1 s late."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if wanted <= {(e.type, e.data.object.id) for e in events}:
                return events
            time.sleep(0.1)
        raise AssertionError(f"not delivered in {timeout:.0f}s: {wanted}; got {[e.type for e in self.events()]}")


@pytest.fixture
def hook(stripe_server) -> Iterator[Hook]:
    hook = Hook()
    register_webhook(stripe_server, "standin-test", hook.url, WEBHOOK_SECRET)
    yield hook
    # Registrations cannot be deleted: narrow this one to an event that never happens.
    register_webhook(stripe_server, "standin-test", hook.url, WEBHOOK_SECRET, events=["standin.test.unsubscribed"])
    hook.server.shutdown()
    hook.server.server_close()


def test_manual_capture_authorise_cancel_capture_refund(client):
    visa = card(client)
    held = authorise(client, 1500, visa)
    assert held.status == "requires_capture"
    assert held.amount == 1500 and held.capture_method == "manual" and held.metadata["bid"] == "b1"
    # Unlike Stripe, no amount_capturable / amount_received / canceled_at / cancellation_reason:
    # reading them from the library's object raises AttributeError.
    assert not {"amount_capturable", "amount_received", "canceled_at", "cancellation_reason"} & set(held.to_dict())
    assert client.v1.payment_intents.cancel(held.id).status == "canceled"
    assert client.v1.payment_intents.retrieve(held.id).status == "canceled"

    won = authorise(client, 2500, visa)
    assert won.status == "requires_capture"
    captured = client.v1.payment_intents.capture(won.id)
    assert captured.status == "succeeded"
    # Unlike Stripe, latest_charge comes expanded (an object, not its id).
    assert captured.latest_charge["captured"] is True and captured.latest_charge["amount"] == 2500
    refund = client.v1.refunds.create(params={"payment_intent": won.id, "amount": 1000})
    assert (refund.status, refund.amount) == ("succeeded", 1000)
    assert client.v1.refunds.retrieve(refund.id).charge == captured.latest_charge["id"]

    # A capture of less than was authorised refunds the rest.
    partial = client.v1.payment_intents.capture(authorise(client, 3000, visa).id, params={"amount_to_capture": 1200})
    assert partial.status == "succeeded" and partial.latest_charge["amount_refunded"] == 1800

    # The test PaymentMethod ids work as payment_method, e.g. pm_card_visa.
    assert authorise(client, 100, "pm_card_visa").status == "requires_capture"


def test_confirming_later(client):
    """An intent created unconfirmed confirms with POST /v1/payment_intents/{id}/confirm, but
    only with its payment_method set beforehand: passing it to confirm is 'Not implemented'."""
    visa = card(client)
    pending = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "eur", "payment_method": visa, "capture_method": "manual"})
    assert pending.status == "requires_confirmation"
    assert client.v1.payment_intents.confirm(pending.id).status == "requires_capture"

    bare = client.v1.payment_intents.create(params={"amount": 700, "currency": "eur", "capture_method": "manual"})
    assert bare.status == "requires_payment_method"
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.confirm(bare.id, params={"payment_method": visa})
    assert caught.value.http_status == 500
    assert client.v1.payment_intents.update(bare.id, params={"payment_method": visa}).status == "requires_confirmation"
    assert client.v1.payment_intents.confirm(bare.id).status == "requires_capture"


def test_declines(client):
    """The one decline localstripe reproduces: card 4000000000000341 when confirmed, as
    stripe.CardError, HTTP 402, code card_declined, the failed charge's id in the error (no
    decline_code, no payment_intent); the intent stays, as requires_payment_method."""
    with pytest.raises(stripe.CardError) as caught:
        authorise(client, 1000, card(client, DECLINED_ON_CHARGE))
    error = caught.value
    assert (error.http_status, error.code, error.user_message) == (402, "card_declined", "Your card was declined.")
    assert error.error.decline_code is None and error.error.payment_intent is None
    charge = client.v1.charges.retrieve(error.error.charge)
    assert charge.status == "failed" and charge.failure_code == "card_declined"
    assert client.v1.payment_intents.retrieve(charge.payment_intent).status == "requires_payment_method"

    with pytest.raises(stripe.CardError) as caught:
        authorise(client, 1000, "pm_card_chargeCustomerFail")
    assert caught.value.code == "card_declined"

    # Stripe's generic decline card is declined only on attaching it to a customer ...
    generic = card(client, DECLINED_ON_ATTACH)
    customer = client.v1.customers.create(params={"email": "decline@kalakrut.test"})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.attach(generic, params={"customer": customer.id})
    assert (caught.value.http_status, caught.value.code) == (402, "card_declined")
    # ... and authorises in a PaymentIntent, as do pm_card_visa_chargeDeclined and the other
    # decline cards (insufficient funds 9995, expired 0069, CVC 0127, processing error 0119).
    for method in (generic, "pm_card_visa_chargeDeclined",
                   *(card(client, n) for n in ("4000000000009995", "4000000000000069", "4000000000000127",
                                               "4000000000000119"))):
        assert authorise(client, 1000, method).status == "requires_capture"
    # pm_card_chargeDeclined is not one of its test ids.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        authorise(client, 1000, "pm_card_chargeDeclined")
    assert caught.value.http_status == 404


def test_webhook_events_are_signed_and_which_are_sent(client, hook):
    visa = card(client)
    canceled = authorise(client, 1000, visa)
    client.v1.payment_intents.cancel(canceled.id)
    captured = client.v1.payment_intents.capture(authorise(client, 2000, visa).id)
    with pytest.raises(stripe.CardError) as caught:
        authorise(client, 3000, card(client, DECLINED_ON_CHARGE))
    failed = client.v1.charges.retrieve(caught.value.error.charge).payment_intent

    events = hook.wait_for({("payment_intent.succeeded", captured.id), ("payment_intent.payment_failed", failed)})
    # Every delivery verifies with the secret it was registered with, and with no other.
    assert all(header.startswith("t=") and ",v1=" in header for _, header in hook.received)
    body, header = hook.received[0]
    # The payments-webhook function's own check (decision 0039) takes them too, and only them.
    assert all(signed_by(b.decode(), h, WEBHOOK_SECRET, now=time.time()) for b, h in hook.received)
    assert not signed_by(body.decode(), header, "whsec_other", now=time.time())
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_other")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(b" " + body, header, WEBHOOK_SECRET)

    succeeded = next(e for e in events if e.type == "payment_intent.succeeded" and e.data.object.id == captured.id)
    assert succeeded.data.object.status == "succeeded" and succeeded.data.object.amount == 2000
    assert succeeded.api_version == "2017-08-15"  # its own fixed version, whatever the client asks
    time.sleep(1.5)  # events come ~1 s late, in order: anything about these intents is in by now
    about_ours = sorted(e.type for e in hook.events() if e.data.object.id in (canceled.id, captured.id, failed))
    # No payment_intent.created, .amount_capturable_updated, .canceled, charge.* or refund events.
    assert about_ours == ["payment_intent.payment_failed", "payment_intent.succeeded"]


def test_only_sent_events_when_filtered(client, hook, stripe_server):
    register_webhook(stripe_server, "standin-test", hook.url, WEBHOOK_SECRET, events=["customer.created"])
    customer = client.v1.customers.create(params={"email": "filtered@kalakrut.test"})
    captured = client.v1.payment_intents.capture(authorise(client, 500, card(client)).id)
    hook.wait_for({("customer.created", customer.id)})
    time.sleep(1.5)
    assert captured.id not in {e.data.object.id for e in hook.events()}


def test_what_it_does_not_check(client):
    """Gaps the payments code must enforce itself: no amount cap (Stripe: 99,999,999), no
    check that refunds fit the charge, and Idempotency-Key ignored (a retry duplicates)."""
    visa = card(client)
    assert authorise(client, 100_000_000_000, visa).status == "requires_capture"
    paid = client.v1.payment_intents.capture(authorise(client, 1000, visa).id)
    assert client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 5000}).status == "succeeded"

    before = len(client.v1.payment_intents.list(params={"limit": 1000}).data)
    for _ in range(2):
        client.v1.payment_intents.create(
            params={"amount": 900, "currency": "eur", "payment_method": visa, "capture_method": "manual"},
            options={"idempotency_key": "standin-same-key"})
    assert len(client.v1.payment_intents.list(params={"limit": 1000}).data) == before + 2


def test_what_it_does_not_serve(client, stripe_server):
    """Parameters it does not know are refused; Connect, Transfers and Checkout are absent."""
    for extra in ({"description": "bid"}, {"automatic_payment_methods": {"enabled": True}}):
        with pytest.raises(stripe.InvalidRequestError, match="Unexpected"):
            client.v1.payment_intents.create(params={"amount": 100, "currency": "eur", **extra})
    held = authorise(client, 100, card(client))
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected cancellation_reason"):
        client.v1.payment_intents.cancel(held.id, params={"cancellation_reason": "abandoned"})
    with pytest.raises(stripe.InvalidRequestError):  # card[token] is not accepted: numbers only
        client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    for path in ("/v1/accounts", "/v1/transfers", "/v1/checkout/sessions"):
        response = requests.post(f"{stripe_server}{path}", auth=(SECRET_KEY, ""), data={"amount": 100}, timeout=10)
        assert response.status_code == 404, path
