"""Payouts: a seller's balance (the ledger's ``seller:<id>``) sent to their Stripe Connect
account (decision 0027).

    1. the seller connects an account once (Stripe hosts the onboarding: identity, bank);
    2. a payout is a row and a ledger journal (seller -amount, ``payouts:stripe`` +amount),
       committed together under a lock on the seller's balance: two requests cannot both
       spend it, and the balance already shows the money as gone;
    3. then the transfer is made, keyed by the payout's id; a refusal posts the reversal
       journal and the payout fails; a provider that cannot be reached leaves it pending,
       and the auction-close job's sweep tries again with the same key.

localstripe has no Connect (STANDINS.md): the adapter's requests and Stripe's answers are
tested through the official library with a recording HTTP client (tests/integration/test_payouts.py).
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints
from sqlalchemy import text

from shared.db import work
from shared.errors import Conflict, ValidationFailed
from shared.payments import ledger
from shared.payments.gateway import MAX_CARD_AMOUNT, PaymentDeclined, PaymentUnavailable
from shared.types import AmountOut, ApiModel, PositiveAmountIn

if TYPE_CHECKING:
    from shared.payments.gateway import Gateway

PAYOUTS = "payouts:stripe"
# One advisory-lock namespace for sellers' balances; the second key is a hash of the account.
LOCK_NAMESPACE = 0x7061  # "pa"
STALE = timedelta(minutes=5)


class AccountIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")] = Field(
        description="where the seller's bank account is (ISO 3166-1 alpha-2)")


class Onboarding(ApiModel):
    url: str = Field(description="Stripe's hosted onboarding: open it, finish there, come back")
    payouts_enabled: bool


class PayoutIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    currency: Literal["EUR", "USD", "GBP"]
    amount: PositiveAmountIn


class PayoutOut(ApiModel):
    id: uuid.UUID
    amount: AmountOut
    currency: str
    status: Literal["pending", "paid", "failed"]
    created_at: AwareDatetime


class PayoutList(ApiModel):
    items: list[PayoutOut]



def onboard(user_id: uuid.UUID, data: AccountIn, gateway: Gateway, *, return_url: str) -> Onboarding:
    """The seller's connected account (made once), and a link to finish setting it up."""
    from shared.payments.cards import unavailable

    with work() as unit:
        account = unit.connection.execute(text("SELECT provider_account FROM payout_accounts WHERE user_id = :u"),
                                          {"u": user_id}).scalar_one_or_none()
    try:
        if account is None:
            try:
                made = gateway.create_account(str(user_id), data.country)
            except PaymentDeclined as refused:  # e.g. a country Stripe has no accounts in
                raise ValidationFailed(f"Stripe did not open a payout account ({refused.code})") from None
            with work() as unit:  # a concurrent request may have made one too: the first row wins
                unit.connection.execute(text(
                    "INSERT INTO payout_accounts (user_id, provider_account) VALUES (:u, :a) ON CONFLICT DO NOTHING"),
                    {"u": user_id, "a": made})
                account = unit.connection.execute(text(
                    "SELECT provider_account FROM payout_accounts WHERE user_id = :u"), {"u": user_id}).scalar_one()
        url = gateway.onboarding_link(account, refresh_url=return_url, return_url=return_url)
        return Onboarding(url=url, payouts_enabled=gateway.payouts_enabled(account))
    except (PaymentUnavailable, PaymentDeclined):
        raise unavailable() from None


def request(user_id: uuid.UUID, data: PayoutIn, gateway: Gateway) -> uuid.UUID:
    """Send ``amount`` of the seller's balance to their account; the payout's id."""
    from shared.payments.cards import unavailable

    if data.amount > MAX_CARD_AMOUNT:
        raise ValidationFailed(f"a payout is at most {MAX_CARD_AMOUNT} minor units")
    with work() as unit:
        account = unit.connection.execute(text("SELECT provider_account FROM payout_accounts WHERE user_id = :u"),
                                          {"u": user_id}).scalar_one_or_none()
    if account is None:
        raise Conflict("connect a payout account first (POST /api/payouts/account)")
    try:
        enabled = gateway.payouts_enabled(account)
    except (PaymentUnavailable, PaymentDeclined):
        raise unavailable() from None
    if not enabled:
        raise Conflict("your payout account is not set up yet: finish Stripe's onboarding")
    seller = ledger.seller(user_id)
    with work() as unit:
        conn = unit.connection
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:account))"),
                     {"ns": LOCK_NAMESPACE, "account": seller})
        if ledger.balance(conn, seller, data.currency) < data.amount:
            raise Conflict("that is more than your balance in this currency")
        payout_id = conn.execute(text(
            "INSERT INTO payouts (user_id, amount, currency) VALUES (:u, :amount, :currency) RETURNING id"),
            {"u": user_id, "amount": data.amount, "currency": data.currency}).scalar_one()
        ledger.post(conn, key=f"payout:{payout_id}", kind="payout", currency=data.currency,
                    legs=[(seller, -data.amount), (PAYOUTS, data.amount)])
    send(payout_id, gateway)
    return payout_id


def send(payout_id: uuid.UUID, gateway: Gateway) -> str:
    """Make (or retry, with the same key) a pending payout's transfer; its status after."""
    with work() as unit:
        row = unit.connection.execute(text(
            "SELECT p.user_id, p.amount, p.currency, p.status, a.provider_account FROM payouts p "
            "JOIN payout_accounts a ON a.user_id = p.user_id WHERE p.id = :id"), {"id": payout_id}).one()
    if row.status != "pending":
        return row.status
    try:
        ref = gateway.transfer(str(payout_id), account_id=row.provider_account, amount=int(row.amount),
                               currency=row.currency)
    except PaymentUnavailable:
        return "pending"
    except PaymentDeclined as refused:
        with work() as unit:
            failed = unit.connection.execute(text(
                "UPDATE payouts SET status = 'failed', last_error = :code, updated_at = now() "
                "WHERE id = :id AND status = 'pending'"), {"id": payout_id, "code": refused.code}).rowcount
            if failed:  # the money goes back to the balance, once
                ledger.post(unit.connection, key=f"payout-reversal:{payout_id}", kind="payout-reversal",
                            currency=row.currency, legs=[(ledger.seller(row.user_id), int(row.amount)),
                                                         (PAYOUTS, -int(row.amount))])
        return "failed"
    with work() as unit:
        unit.connection.execute(text(
            "UPDATE payouts SET status = 'paid', provider_ref = :ref, updated_at = now() "
            "WHERE id = :id AND status = 'pending'"), {"id": payout_id, "ref": ref})
    return "paid"


def retry_pending(gateway: Gateway, *, batch: int = 50) -> int:
    """Payouts a provider outage left pending: try again, with the same idempotency key."""
    with work() as unit:
        due = list(unit.connection.execute(text(
            "SELECT id FROM payouts WHERE status = 'pending' AND updated_at < now() - CAST(:stale AS interval) "
            "ORDER BY updated_at LIMIT :batch"), {"stale": STALE, "batch": batch}).scalars())
    for payout_id in due:
        send(payout_id, gateway)
    return len(due)


def of(user_id: uuid.UUID, payout_id: uuid.UUID | None = None) -> PayoutList:
    """The seller's payouts, newest first (the last hundred), or the one named."""
    with work() as unit:
        rows = unit.connection.execute(text(
            "SELECT id, amount, currency, status, created_at FROM payouts WHERE user_id = :u "
            "AND (CAST(:id AS uuid) IS NULL OR id = :id) ORDER BY created_at DESC, id DESC LIMIT 100"),
            {"u": user_id, "id": payout_id})
        return PayoutList(items=[PayoutOut(id=r.id, amount=int(r.amount), currency=r.currency, status=r.status,
                                           created_at=r.created_at) for r in rows])
