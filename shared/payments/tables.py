"""The payments tables: authorisations held with the provider, and the append-only ledger."""
from __future__ import annotations

from sqlalchemy import (
                 BigInteger,
                 CheckConstraint,
                 Column,
                 ForeignKey,
                 Identity,
                 Index,
                 Integer,
                 String,
                 Table,
                 Text,
                 text,
)
from sqlalchemy.dialects.postgresql import UUID

from shared.tables import Amount, created, metadata, one_of, updated, uuid_pk

HOLD_PURPOSES = ("bid", "purchase")
# pending: recorded before the provider is asked (a crash leaves a row to clean up, never an
# unknown authorisation); authorised: money held; releasing/capturing/refunding: decided, the
# provider not yet told; released, captured, refunded, failed: settled (shared/payments/holds.py).
HOLD_STATUSES = ("pending", "authorised", "releasing", "released", "capturing", "captured", "refunding", "refunded",
                 "failed")
UNSETTLED = ("pending", "releasing", "capturing", "refunding")

payment_holds = Table(
    "payment_holds",
    metadata,
    uuid_pk(),
    Column("purpose", String(16), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    # What a bid's hold is for (no foreign key: payments know no marketplace).
    Column("auction_id", UUID(as_uuid=True)),
    # The provider's PaymentIntent id, known once it is created.
    Column("provider_ref", String(255), unique=True),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("last_error", Text),
    # Tries at the provider since the last decision: each has its own idempotency key (holds._attempt).
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The payer's Idempotency-Key for the request that made this hold: a repeat finds it.
    Column("request_key", String(64)),
    created("created_at"),
    updated("updated_at"),
    CheckConstraint(one_of("purpose", HOLD_PURPOSES), name="purpose"),
    CheckConstraint(one_of("status", HOLD_STATUSES), name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_payment_holds_unsettled", "updated_at", postgresql_where=text(f"status IN {UNSETTLED}")),
    Index("ix_payment_holds_auction", "auction_id", postgresql_where=text("auction_id IS NOT NULL")),
    # The auction-close job's questions each minute: bid holds that may back nothing any more,
    # refunds made whose order is not yet marked.
    Index("ix_payment_holds_authorised_bids", "updated_at",
          postgresql_where=text("purpose = 'bid' AND status = 'authorised'")),
    Index("ix_payment_holds_refunded", "id", postgresql_where=text("status = 'refunded'")),
    Index("ix_payment_holds_request_key", "user_id", "request_key", unique=True,
          postgresql_where=text("request_key IS NOT NULL")),
)

# Double entry: each journal's entries sum to zero per currency; a positive amount is value
# credited to the account's holder (buyer:<id> pays with a negative entry, seller:<id> and
# platform:fees receive). Both tables are append-only (a trigger refuses UPDATE and DELETE);
# a correction is a new journal. A journal's key makes posting it again a no-op.
ledger_journals = Table(
    "ledger_journals",
    metadata,
    uuid_pk(),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("order_id", UUID(as_uuid=True)),
    Column("hold_id", ForeignKey("payment_holds.id")),
    created("created_at"),
    Index("ix_ledger_journals_order", "order_id", postgresql_where=text("order_id IS NOT NULL")),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("journal_id", ForeignKey("ledger_journals.id"), nullable=False),
    Column("account", String(80), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    created("created_at"),
    CheckConstraint("amount <> 0", name="amount_nonzero"),
    Index("ix_ledger_entries_account", "account", "currency"),
)

# A seller's Stripe Connect account (payouts; shared/payments/payouts.py).
payout_accounts = Table(
    "payout_accounts",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("provider_account", String(255), nullable=False, unique=True),
    created("created_at"),
)

PAYOUT_STATUSES = ("pending", "paid", "failed")

# Money sent from a seller's balance to their connected account: debited from the ledger when
# asked for (so two requests cannot both spend it), credited back if the transfer fails.
payouts = Table(
    "payouts",
    metadata,
    uuid_pk(),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("provider_ref", String(255), unique=True),
    Column("last_error", Text),
    created("created_at"),
    updated("updated_at"),
    CheckConstraint(one_of("status", PAYOUT_STATUSES), name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_payouts_user", "user_id", "created_at", "id"),
    Index("ix_payouts_pending", "updated_at", postgresql_where=text("status = 'pending'")),
)
