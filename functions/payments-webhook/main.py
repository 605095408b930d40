"""payments-webhook: Stripe's deliveries, signature-checked, applied to the payment holds once;
an order waiting on the money it reports is finished (paid, or cancelled with its stock back)."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared.config import get_settings
from shared.db import work
from shared.errors import PayloadTooLarge
from shared.http.api import Api, Call
from shared.market import orders
from shared.payments import webhook

api = Api("payments-webhook")


@api.route("POST", "/api/payments/stripe", summary="Stripe's webhook endpoint (signed by Stripe; nobody else)",
           auth="public", response=webhook.Received, errors=(400, 413), transaction=False)
def stripe_event(call: Call) -> webhook.Received:
    settings = get_settings()
    settings.require("stripe_webhook_secret")
    # The raw bytes are what Stripe signed; no more than any request may carry.
    payload = call.request.stream.read(settings.max_body_bytes + 1)
    if len(payload) > settings.max_body_bytes:
        raise PayloadTooLarge()
    event = webhook.verify(payload, call.request.headers.get("Stripe-Signature"), settings.stripe_webhook_secret or "")
    with work() as unit:
        received = webhook.apply(unit.connection, event)
    if received.applied in ("captured", "failed"):  # an order waiting on this money is decided now
        orders.finish_settled()
    return received


def handle(request):
    return api(request)
