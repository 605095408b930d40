"""Authorisations held with the payment provider, and what becomes of them.

Every hold is a row before it is anything at the provider, and each step commits before
the next call goes out, so a crash anywhere leaves a row saying what may be held:

    pending --(confirmed: money held)--> authorised --(outbid, refused, orphaned)--> releasing --> released
       |                                     '--(won, bought)--> capturing --> captured --> refunding --> refunded
       '--(declined)--> failed           (a pending row a crash left: releasing, or failed if never sent)

``sweep`` (the auction-close job, each minute) finishes what a request or a run left
undone: it releases stale pending rows and everything ``releasing``, and retries stale
refunds; the market decides
which authorised holds no longer back anything (shared/market/bidding.py). A provider
event (shared/payments/webhook.py) moves a hold the same way our own answer would have.
Transitions are guarded by the status they leave, so applying one twice changes nothing.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared.db import work
from shared.payments.gateway import AUTHORISED, CANCELED, CAPTURED, PaymentDeclined, PaymentUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.payments.gateway import Gateway, Intent

logger = logging.getLogger(__name__)

# A pending hold older than this was left by a crash or a timeout, never by a live request.
# Far longer than any request can take (a function times out at 60 s; a provider call at
# 3 tries of 10 s), so the sweep never takes a live request's row for a crash's.
STALE = timedelta(minutes=10)



def _move(conn: Connection, hold_id: uuid.UUID, to: str, *, leaving: Iterable[str], **values: object) -> bool:
    sets = ", ".join(f"{name} = :{name}" for name in values)
    moved = conn.execute(text(
        f"UPDATE payment_holds SET status = :to, updated_at = now(){', ' + sets if sets else ''} "
        "WHERE id = :id AND status = ANY(CAST(:leaving AS text[]))"),
        {"id": hold_id, "to": to, "leaving": list(leaving), **values})
    return moved.rowcount == 1


class KeyInUse(Exception):
    """Another request with the payer's Idempotency-Key made a hold first."""


def authorise(gateway: Gateway, *, purpose: str, user_id: uuid.UUID, amount: int, currency: str,
              payment_method: str, auction_id: uuid.UUID | None = None, request_key: str | None = None) -> uuid.UUID:
    """Hold ``amount`` on the payer's card; the hold's id once the provider holds it.

    PaymentDeclined if the provider refuses (nothing is held), PaymentUnavailable if it
    cannot be reached (a pending row stays for ``sweep`` to release), KeyInUse if the payer's
    ``request_key`` names another hold (nothing is done)."""
    with work() as unit:
        hold_id = unit.connection.execute(text(
            "INSERT INTO payment_holds (purpose, user_id, amount, currency, auction_id, request_key) "
            "VALUES (:purpose, :user, :amount, :currency, :auction, :key) "
            "ON CONFLICT (user_id, request_key) WHERE request_key IS NOT NULL DO NOTHING RETURNING id"),
            {"purpose": purpose, "user": user_id, "amount": amount, "currency": currency,
             "auction": auction_id, "key": request_key}).scalar_one_or_none()
    if hold_id is None:
        raise KeyInUse(request_key)
    key = str(hold_id)
    try:
        # Created unconfirmed, then recorded, then confirmed: money is held only once the row
        # names the intent, so no crash can leave an authorisation we do not know of.
        intent = gateway.create(key, amount=amount, currency=currency, payment_method=payment_method)
        with work() as unit:
            recorded = unit.connection.execute(text(
                "UPDATE payment_holds SET provider_ref = :ref, updated_at = now() WHERE id = :id AND status = 'pending'"),
                {"id": hold_id, "ref": intent.id}).rowcount
        if not recorded:  # the sweep gave up on this row meanwhile: the intent was never confirmed
            raise PaymentUnavailable("the authorisation took too long")
        intent = gateway.confirm(key, intent.id)
    except PaymentDeclined as declined:
        with work() as unit:
            _move(unit.connection, hold_id, "failed", leaving=["pending"], last_error=declined.code)
        raise
    if intent.status != AUTHORISED or intent.amount != amount or intent.currency != currency.upper():
        # Held for something else, or waiting on the cardholder (3-D Secure): not a backing.
        with work() as unit:
            _move(unit.connection, hold_id, "releasing", leaving=["pending"], last_error=f"status {intent.status}")
        release([hold_id], gateway)
        raise PaymentDeclined(intent.status)
    with work() as unit:
        held = _move(unit.connection, hold_id, "authorised", leaving=["pending"])
    if not held:  # the sweep is releasing it (the request outlived STALE): it backs nothing
        raise PaymentUnavailable("the authorisation took too long")
    return hold_id


def _attempt(hold_id: uuid.UUID, status: str) -> tuple[str | None, str] | None:
    """Count one more try at a hold in ``status``: its provider reference and the try's
    idempotency key, or None if it is no longer in that status. Each try has its own key:
    Stripe keeps a key's first answer for a day, a 500 included, and capturing, cancelling
    and fully refunding an intent can each happen only once whatever the key."""
    with work() as unit:
        row = unit.connection.execute(text(
            "UPDATE payment_holds SET attempts = attempts + 1, updated_at = now() "
            "WHERE id = :id AND status = :status RETURNING provider_ref, attempts"),
            {"id": hold_id, "status": status}).one_or_none()
    return None if row is None else (row.provider_ref, f"{hold_id}:{row.attempts}")


def start_capture(conn: Connection, hold_id: uuid.UUID) -> bool:
    """Decide to take an authorised hold (in the caller's transaction, with its order)."""
    return _move(conn, hold_id, "capturing", leaving=["authorised"])


def start_refund(conn: Connection, hold_id: uuid.UUID) -> bool:
    """Decide to give a captured hold back (in the caller's transaction, with its order)."""
    return _move(conn, hold_id, "refunding", leaving=["captured"])


def still_authorised(conn: Connection, hold_id: uuid.UUID) -> bool:
    """Whether the hold is authorised now (a sweep may have let go of a slow request's); touched,
    so the sweep's grace restarts while the caller's transaction commits."""
    return conn.execute(text("UPDATE payment_holds SET updated_at = now() WHERE id = :id AND status = 'authorised'"),
                        {"id": hold_id}).rowcount == 1


def status_of(conn: Connection, hold_id: uuid.UUID) -> str:
    return conn.execute(text("SELECT status FROM payment_holds WHERE id = :id"), {"id": hold_id}).scalar_one()


def let_go(conn: Connection, hold_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Mark authorised or pending holds for release, in the caller's transaction."""
    return [hold_id for hold_id in hold_ids
            if _move(conn, hold_id, "releasing", leaving=["authorised", "pending"])]


def give_up(hold_id: uuid.UUID, gateway: Gateway) -> None:
    """Let go of a hold at once: what it was to back was refused (outbid meanwhile, sold out)."""
    with work() as unit:
        let_go(unit.connection, [hold_id])
    release([hold_id], gateway)


def release(hold_ids: Iterable[uuid.UUID], gateway: Gateway) -> None:
    """Tell the provider to let go of holds marked ``releasing``; what fails stays for ``sweep``."""
    for hold_id in hold_ids:
        attempt = _attempt(hold_id, "releasing")
        if attempt is None:
            continue
        ref, key = attempt
        if ref is None:
            with work() as unit:  # never reached the provider: nothing to let go
                _move(unit.connection, hold_id, "released", leaving=["releasing"])
            continue
        try:
            intent = gateway.cancel(key, ref)
        except (PaymentUnavailable, PaymentDeclined):
            continue  # the next sweep tries again, with the next key
        with work() as unit:
            settled(unit.connection, ref, intent.status)


def capture(hold_id: uuid.UUID, gateway: Gateway) -> str:
    """Take a hold marked ``capturing``: its status after ('captured', 'failed', or still
    'capturing' when the provider could not be reached)."""
    attempt = _attempt(hold_id, "capturing")
    if attempt is None:
        return _status(hold_id)
    ref, key = attempt
    try:
        intent: Intent = gateway.capture(key, ref)
    except PaymentDeclined as declined:
        intent = _current(gateway, ref, declined.code)
        if intent is None:
            return "capturing"
    except PaymentUnavailable:
        return "capturing"
    with work() as unit:
        return settled(unit.connection, ref, intent.status) or "capturing"


def _status(hold_id: uuid.UUID) -> str:
    with work() as unit:
        return status_of(unit.connection, hold_id)


def refund(hold_id: uuid.UUID, gateway: Gateway) -> str:
    """Give back a hold marked ``refunding``: its status after ('refunded', or still
    'refunding' for ``sweep`` to try again: the refund's idempotency key is the hold's)."""
    attempt = _attempt(hold_id, "refunding")
    if attempt is None:
        return _status(hold_id)
    ref, key = attempt
    try:
        status = gateway.refund(key, ref)
    except PaymentDeclined as refused:
        # An earlier try did it (its answer lost, its key's day past): the money is back.
        status = "succeeded" if refused.code == "charge_already_refunded" else "failed"
        if status == "failed":
            logger.warning("refund refused", extra={"hold_id": str(hold_id), "code": refused.code})
    except PaymentUnavailable:
        return "refunding"
    # "pending": a card refund Stripe has accepted and the bank has yet to settle; one that
    # fails later (refund.failed) is not handled yet (decision 0027).
    if status not in ("succeeded", "pending"):
        return "refunding"
    with work() as unit:
        _move(unit.connection, hold_id, "refunded", leaving=["refunding"])
    return "refunded"


def _current(gateway: Gateway, ref: str, code: str) -> Intent | None:
    """After a refused capture: the intent as the provider has it (maybe captured already)."""
    try:
        intent = gateway.retrieve(ref)
    except (PaymentUnavailable, PaymentDeclined):
        return None
    logger.warning("capture refused", extra={"provider_ref": ref, "code": code, "intent_status": intent.status})
    return intent


def settled(conn: Connection, ref: str, status: str) -> str | None:
    """Apply the provider's word on an intent (our call's answer or its event); the hold's
    status after, None for an intent no hold knows."""
    if status == CAPTURED:
        _move_by_ref(conn, ref, "captured", leaving=["capturing", "authorised"])
    elif status == CANCELED:
        _move_by_ref(conn, ref, "released", leaving=["releasing", "pending", "authorised"])
        _move_by_ref(conn, ref, "failed", leaving=["capturing"])  # expired before we took it
    return conn.execute(text("SELECT status FROM payment_holds WHERE provider_ref = :ref"),
                        {"ref": ref}).scalar_one_or_none()


def _move_by_ref(conn: Connection, ref: str, to: str, *, leaving: list[str]) -> None:
    conn.execute(text("UPDATE payment_holds SET status = :to, updated_at = now() "
                      "WHERE provider_ref = :ref AND status = ANY(CAST(:leaving AS text[]))"),
                 {"ref": ref, "to": to, "leaving": leaving})


def sweep(gateway: Gateway, *, stale: timedelta = STALE, batch: int = 100) -> int:
    """Finish what crashed or timed-out requests left; how many holds were let go."""
    with work() as unit:
        conn = unit.connection
        # Never sent: nothing is held.
        conn.execute(text("UPDATE payment_holds SET status = 'failed', last_error = 'abandoned', updated_at = now() "
                          "WHERE status = 'pending' AND provider_ref IS NULL AND updated_at < now() - CAST(:stale AS interval)"),
                     {"stale": stale})
        conn.execute(text("UPDATE payment_holds SET status = 'releasing', updated_at = now() "
                          "WHERE status = 'pending' AND updated_at < now() - CAST(:stale AS interval)"), {"stale": stale})
        # Oldest try first: a hold that keeps failing (each try touches it) waits behind the others.
        due = list(conn.execute(text("SELECT id FROM payment_holds WHERE status = 'releasing' "
                                     "ORDER BY updated_at LIMIT :batch"), {"batch": batch}).scalars())
        refunds = list(conn.execute(text("SELECT id FROM payment_holds WHERE status = 'refunding' "
                                         "AND updated_at < now() - CAST(:stale AS interval) ORDER BY updated_at "
                                         "LIMIT :batch"), {"batch": batch, "stale": stale}).scalars())
    release(due, gateway)
    for hold_id in refunds:
        refund(hold_id, gateway)
    return len(due)
