"""The payment provider's port: what the platform needs of a card payment and nothing
more. Hold an amount (a PaymentIntent with manual capture), let it go, or take it. The
one adapter is shared/payments/stripe_gateway.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The most a card payment may be, in minor units: Stripe's limit for two-decimal currencies
# (99,999,999, i.e. 999,999.99), and ours for every fiat amount (decision 0027).
MAX_CARD_AMOUNT = 99_999_999
# PaymentIntent statuses, as the provider names them.
AUTHORISED = "requires_capture"
CAPTURED = "succeeded"
CANCELED = "canceled"


class PaymentDeclined(Exception):
    """The provider refused (card declined, authorisation expired): final for this attempt."""

    def __init__(self, code: str) -> None:
        super().__init__(f"the payment was declined ({code})")
        self.code = code


class PaymentUnavailable(Exception):
    """The provider could not be reached or failed: the same call may succeed later."""


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount: int
    currency: str


class Gateway(Protocol):
    def setup(self, user_id: str) -> str: ...
    def create(self, hold_id: str, *, amount: int, currency: str, payment_method: str) -> Intent: ...
    def confirm(self, hold_id: str, intent_id: str) -> Intent: ...
    def cancel(self, hold_id: str, intent_id: str) -> Intent: ...
    def capture(self, hold_id: str, intent_id: str) -> Intent: ...
    def refund(self, hold_id: str, intent_id: str) -> str: ...
    # Payouts to sellers (Stripe Connect): their connected account, its onboarding, transfers.
    def create_account(self, user_id: str, country: str) -> str: ...
    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str: ...
    def payouts_enabled(self, account_id: str) -> bool: ...
    def transfer(self, payout_id: str, *, account_id: str, amount: int, currency: str) -> str: ...
    def retrieve(self, intent_id: str) -> Intent: ...
