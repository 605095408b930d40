"""The append-only double-entry ledger (tables in shared/payments/tables.py).

A journal is one movement of value: entries that sum to zero, in one currency, posted
under a key that names the movement (``sale:<order id>``), so posting it again (a retry,
a redelivered webhook, a second run of the job) is a no-op. A positive amount is value
credited to the account's holder; balances are sums.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy import Connection

PLATFORM_FEES = "platform:fees"


def buyer(user_id: uuid.UUID) -> str:
    return f"buyer:{user_id}"


def seller(user_id: uuid.UUID) -> str:
    return f"seller:{user_id}"


def fee_of(amount: int, fee_bps: int) -> int:
    """The platform's fee in minor units, rounded down: the seller never gets less than the rate says."""
    return amount * fee_bps // 10_000


def sale(buyer_id: uuid.UUID, seller_id: uuid.UUID, amount: int, fee: int) -> list[tuple[str, int]]:
    """The buyer pays ``amount``; the seller gets it less the fee; the platform gets the fee."""
    return [(buyer(buyer_id), -amount), (seller(seller_id), amount - fee), (PLATFORM_FEES, fee)]


def post(conn: Connection, *, key: str, kind: str, currency: str, legs: Sequence[tuple[str, int]],
         order_id: uuid.UUID | None = None, hold_id: uuid.UUID | None = None) -> bool:
    """Record a journal once; False if its key was posted before (nothing is written)."""
    if sum(amount for _, amount in legs) != 0:
        raise ValueError(f"journal {key} does not balance")
    journal = conn.execute(text(
        "INSERT INTO ledger_journals (key, kind, currency, order_id, hold_id) "
        "VALUES (:key, :kind, :currency, :order, :hold) ON CONFLICT (key) DO NOTHING RETURNING id"),
        {"key": key, "kind": kind, "currency": currency, "order": order_id, "hold": hold_id}).scalar_one_or_none()
    if journal is None:
        return False
    conn.execute(text(
        "INSERT INTO ledger_entries (journal_id, account, amount, currency) "
        "SELECT :journal, account, amount, :currency "
        "FROM unnest(CAST(:accounts AS text[]), CAST(:amounts AS numeric[])) AS leg(account, amount) "
        "WHERE amount <> 0"),
        {"journal": journal, "currency": currency, "accounts": [account for account, _ in legs],
         "amounts": [str(amount) for _, amount in legs]})
    return True


def balances(conn: Connection, account: str) -> dict[str, int]:
    """The account's balance in each currency it holds, by currency code."""
    rows = conn.execute(text("SELECT currency, sum(amount) FROM ledger_entries WHERE account = :account "
                             "GROUP BY currency ORDER BY currency"), {"account": account})
    return {currency: int(amount) for currency, amount in rows}


def balance(conn: Connection, account: str, currency: str) -> int:
    return balances(conn, account).get(currency, 0)
