"""The payment port's adapter: Stripe, through the official library.

Each call carries an idempotency key derived from our own hold's id and the step, as
Stripe advises, so a retried request never holds or takes money twice. Locally the
adapter talks to localstripe (STRIPE_API_BASE; local/stripe.py), which ignores those
keys: the holds' own bookkeeping (shared/payments/holds.py) is what makes retries safe
there too.

The library is imported on first use: most requests of the functions that carry it
never touch a payment (cold start, decision 0004).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from shared.payments.gateway import Gateway, Intent, PaymentDeclined, PaymentUnavailable

logger = logging.getLogger(__name__)


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None = None, http_client: Any = None) -> None:
        import stripe

        self._stripe = stripe
        addresses = {"api": api_base} if api_base else None
        # The library's own retries reuse the idempotency key: safe, and they ride out a blip.
        # 10 s a try (the library's default is 80): three tries stay well inside a request's
        # minute and holds.STALE.
        self._client = stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=2,
                                           http_client=http_client or stripe.RequestsClient(timeout=10))

    def setup(self, user_id: str) -> str:
        """A SetupIntent's client secret: the browser's Stripe.js attaches a card to it (and
        authenticates the cardholder if the bank asks), giving a PaymentMethod to pay with."""
        params = {"usage": "on_session", "payment_method_types": ["card"], "metadata": {"user_id": user_id}}
        # No idempotency key: a second SetupIntent from a retry holds no money and expires unused.
        intent = self._request("setup", None, lambda options: self._client.v1.setup_intents.create(
            params=params, options=options))
        return str(intent.client_secret)

    def create(self, hold_id: str, *, amount: int, currency: str, payment_method: str) -> Intent:
        params = {"amount": amount, "currency": currency.lower(), "payment_method": payment_method,
                  "capture_method": "manual", "payment_method_types": ["card"], "metadata": {"hold_id": hold_id}}
        return self._call("create", hold_id, lambda options: self._client.v1.payment_intents.create(
            params=params, options=options))

    def confirm(self, hold_id: str, intent_id: str) -> Intent:
        return self._call("confirm", hold_id, lambda options: self._client.v1.payment_intents.confirm(
            intent_id, options=options))

    def cancel(self, hold_id: str, intent_id: str) -> Intent:
        try:
            return self._call("cancel", hold_id, lambda options: self._client.v1.payment_intents.cancel(
                intent_id, options=options))
        except PaymentDeclined:
            # Already canceled (or never held): what the provider holds now is the answer.
            return self.retrieve(intent_id)

    def capture(self, hold_id: str, intent_id: str) -> Intent:
        return self._call("capture", hold_id, lambda options: self._client.v1.payment_intents.capture(
            intent_id, options=options))

    def refund(self, hold_id: str, intent_id: str) -> str:
        """Give back everything captured; the refund's status (``succeeded`` for cards, or ``pending``)."""
        refund = self._request("refund", hold_id, lambda options: self._client.v1.refunds.create(
            params={"payment_intent": intent_id}, options=options))
        return str(refund.status)

    def create_account(self, user_id: str, country: str) -> str:
        """A connected account (Express: Stripe hosts the seller's identity checks and bank details)."""
        params = {"type": "express", "country": country, "metadata": {"user_id": user_id},
                  "capabilities": {"transfers": {"requested": True}}}
        account = self._request("account", f"account-{user_id}", lambda options: self._client.v1.accounts.create(
            params=params, options=options))
        return str(account.id)

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        params = {"account": account_id, "type": "account_onboarding", "refresh_url": refresh_url,
                  "return_url": return_url}
        link = self._request("onboarding", None, lambda options: self._client.v1.account_links.create(
            params=params, options=options))
        return str(link.url)

    def payouts_enabled(self, account_id: str) -> bool:
        account = self._request("account", None, lambda options: self._client.v1.accounts.retrieve(account_id))
        return bool(account.payouts_enabled)

    def transfer(self, payout_id: str, *, account_id: str, amount: int, currency: str) -> str:
        params = {"amount": amount, "currency": currency.lower(), "destination": account_id,
                  "metadata": {"payout_id": payout_id}}
        transfer = self._request("transfer", payout_id, lambda options: self._client.v1.transfers.create(
            params=params, options=options))
        return str(transfer.id)

    def retrieve(self, intent_id: str) -> Intent:
        return self._call("retrieve", None, lambda options: self._client.v1.payment_intents.retrieve(intent_id))

    def _call(self, step: str, hold_id: str | None, request: Callable[[dict], Any]) -> Intent:
        intent = self._request(step, hold_id, request)
        return Intent(intent.id, intent.status, int(intent.amount), str(intent.currency).upper())

    def _request(self, step: str, key: str | None, request: Callable[[dict], Any]) -> Any:
        stripe = self._stripe
        # The key names our own object and the step: a retry repeats the request exactly.
        options = {"idempotency_key": f"{key}:{step}"} if key else {}
        try:
            return request(options)
        except (stripe.CardError, stripe.InvalidRequestError) as error:
            # A refusal about this payment (declined card, wrong state, unknown method). Only its
            # code leaves this module: messages may quote what the client sent.
            code = getattr(error, "code", None) or "declined"
            logger.info("payment refused", extra={"step": step, "key": key, "code": code})
            raise PaymentDeclined(str(code)) from None
        except stripe.StripeError as error:
            status = getattr(error, "http_status", None) or 0
            if 400 <= status < 500 and status not in (401, 403, 429):
                # Refused, in a body the library could not read as Stripe's (a stand-in's 404):
                # still a refusal of this request, not an outage.
                logger.info("payment refused", extra={"step": step, "key": key, "http_status": status})
                raise PaymentDeclined(f"http_{status}") from None
            # The network, a rate limit, our credentials, or the provider's own failure.
            logger.warning("payment provider unavailable",
                           extra={"step": step, "key": key, "error": type(error).__name__})
            raise PaymentUnavailable(type(error).__name__) from None


@lru_cache(maxsize=1)
def get_gateway() -> Gateway:
    from shared.config import get_settings

    settings = get_settings()
    settings.require("stripe_secret_key")
    return StripeGateway(settings.stripe_secret_key or "", settings.stripe_api_base)
