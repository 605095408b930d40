"""orders: buy now with a card, the buyer's and seller's orders, shipping, downloads,
refunds, the seller's balance from the ledger, and payouts of it (Stripe Connect)."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared.config import get_settings
from shared.http.api import Api, Call, Reply
from shared.market import delivery, orders
from shared.payments import payouts

api = Api("orders")
ORDER = "/api/orders/<uuid:order_id>"


def _gateway():
    from shared.payments.stripe_gateway import get_gateway

    return get_gateway()


@api.route("POST", "/api/orders", summary="Buy now: your card is charged for the item (a physical one needs "
           "a shipping address in its regions); stock is yours once paid", auth="user", body=orders.OrderIn,
           response=orders.OrderOut, status=201, errors=(402, 404, 409, 503), transaction=False, keyed=True)
def buy(call: Call) -> Reply:
    from shared.db import work

    order_id = orders.buy(call.caller, call.body, _gateway(), get_settings().platform_fee_bps, call.idempotency_key)
    with work() as unit:
        order = orders.read(unit.connection, call.caller.id, order_id)
    return Reply(order, status=201, headers={"Location": f"/api/orders/{order_id}"})


@api.route("GET", "/api/orders", summary="Your orders, as buyer or seller, newest first", auth="user",
           query=orders.OrderQuery, response=orders.OrderPage)
def my_orders(call: Call) -> orders.OrderPage:
    return orders.page(call.conn, call.caller.id, call.query)


@api.route("GET", ORDER, summary="One of your orders (its buyer or seller)", auth="user", response=orders.OrderOut)
def order_detail(call: Call) -> orders.OrderOut:
    return orders.read(call.conn, call.caller.id, call.path["order_id"])


@api.route("POST", f"{ORDER}/ship", summary="Mark a paid physical order shipped (its seller)", auth="user",
           body=orders.ShipIn, response=orders.OrderOut, errors=(409,))
def ship(call: Call) -> orders.OrderOut:
    return orders.ship(call.session, call.user, call.path["order_id"], call.body)


@api.route("POST", f"{ORDER}/confirm", summary="Confirm a shipped order arrived (its buyer)", auth="user",
           response=orders.OrderOut, errors=(409,))
def confirm(call: Call) -> orders.OrderOut:
    return orders.confirm(call.session, call.user, call.path["order_id"])


@api.route("GET", f"{ORDER}/download", summary=f"A short-lived link to the bought file (its buyer; at most "
           f"{orders.MAX_DOWNLOADS} per order)", auth="user", response=delivery.Download, errors=(409,))
def download(call: Call) -> delivery.Download:
    return delivery.order_download(call.session, call.user, call.path["order_id"])


@api.route("POST", f"{ORDER}/refund", summary="Refund a paid order in full (its seller); stock not yet shipped "
           "returns", auth="user", response=orders.OrderOut, errors=(409, 503), transaction=False)
def refund(call: Call) -> orders.OrderOut:
    from shared.db import work

    orders.refund(call.caller, call.path["order_id"], _gateway())
    with work() as unit:
        return orders.read(unit.connection, call.caller.id, call.path["order_id"])


@api.route("GET", "/api/orders/balance", summary="Your balance as a seller, per currency (from the ledger)",
           auth="user", response=orders.Balances)
def balance(call: Call) -> orders.Balances:
    return orders.balances(call.conn, call.caller.id)


# -- payouts ------------------------------------------------------------------------------------

def _return_url(call: Call) -> str:
    """Where Stripe's onboarding sends the seller back: the site they came from, if it is ours."""
    origins = get_settings().cors_allowed_origins
    origin = call.request.headers.get("Origin")
    return f"{origin if origin in origins else origins[0]}/#/orders?tab=sold"


@api.route("POST", "/api/payouts/account", summary="Connect (or finish connecting) your payout account: a link "
           "to Stripe's onboarding", auth="user", body=payouts.AccountIn, response=payouts.Onboarding,
           errors=(503,), transaction=False)
def payout_account(call: Call) -> payouts.Onboarding:
    return payouts.onboard(call.caller.id, call.body, _gateway(), return_url=_return_url(call))


@api.route("POST", "/api/payouts", summary="Send part of your balance to your payout account", auth="user",
           body=payouts.PayoutIn, response=payouts.PayoutOut, status=201, errors=(409, 503), transaction=False)
def payout(call: Call) -> Reply:
    payout_id = payouts.request(call.caller.id, call.body, _gateway())
    return Reply(payouts.of(call.caller.id, payout_id).items[0], status=201)


@api.route("GET", "/api/payouts", summary="Your payouts, newest first (the last hundred)", auth="user",
           response=payouts.PayoutList, transaction=False)
def my_payouts(call: Call) -> payouts.PayoutList:
    return payouts.of(call.caller.id)


def handle(request):
    """functions-framework entry point."""
    return api(request)
