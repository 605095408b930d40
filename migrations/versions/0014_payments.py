"""payments: authorisations held with Stripe, bids backed by them, orders, the append-only ledger

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UINT256 = sa.Numeric(78, 0)
_OUTCOMES = "outcome IN ('sold', 'reserve_not_met', 'no_bids', 'payment_failed')"
_OLD_OUTCOMES = "outcome IN ('sold', 'reserve_not_met', 'no_bids')"


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _append_only(table: str) -> None:
    op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")


def upgrade() -> None:
    op.create_table(
        "payment_holds",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id", name=op.f("fk_payment_holds_user_id_users")),
                  nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("auction_id", pg.UUID(as_uuid=True)),
        sa.Column("provider_ref", sa.String(255)),
        sa.Column("status", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("attempts", sa.Integer, server_default=sa.text("0"), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_holds")),
        sa.UniqueConstraint("provider_ref", name=op.f("uq_payment_holds_provider_ref")),
        sa.CheckConstraint("purpose IN ('bid', 'purchase')", name=op.f("ck_payment_holds_purpose")),
        sa.CheckConstraint("status IN ('pending', 'authorised', 'releasing', 'released', 'capturing', 'captured', "
                           "'refunding', 'refunded', 'failed')", name=op.f("ck_payment_holds_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_holds_amount_positive")),
    )
    op.create_index("ix_payment_holds_unsettled", "payment_holds", ["updated_at"],
                    postgresql_where=sa.text("status IN ('pending', 'releasing', 'capturing', 'refunding')"))
    op.create_index("ix_payment_holds_auction", "payment_holds", ["auction_id"],
                    postgresql_where=sa.text("auction_id IS NOT NULL"))
    op.create_index("ix_payment_holds_authorised_bids", "payment_holds", ["updated_at"],
                    postgresql_where=sa.text("purpose = 'bid' AND status = 'authorised'"))
    op.create_index("ix_payment_holds_refunded", "payment_holds", ["id"], postgresql_where=sa.text("status = 'refunded'"))
    op.add_column("bids", sa.Column("hold_id", pg.UUID(as_uuid=True),
                                    sa.ForeignKey("payment_holds.id", name=op.f("fk_bids_hold_id_payment_holds"))))
    op.create_unique_constraint(op.f("uq_bids_hold_id"), "bids", ["hold_id"])
    op.drop_constraint(op.f("ck_auctions_outcome"), "auctions", type_="check")
    op.create_check_constraint(op.f("ck_auctions_outcome"), "auctions", _OUTCOMES)

    op.create_table(
        "orders",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        sa.Column("buyer_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id", name=op.f("fk_orders_buyer_id_users")),
                  nullable=False),
        sa.Column("seller_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("users.id", name=op.f("fk_orders_seller_id_users")), nullable=False),
        sa.Column("item_id", pg.UUID(as_uuid=True), sa.ForeignKey("items.id", name=op.f("fk_orders_item_id_items")),
                  nullable=False),
        sa.Column("auction_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("auctions.id", name=op.f("fk_orders_auction_id_auctions"))),
        sa.Column("quantity", sa.Integer, server_default=sa.text("1"), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("fee", UINT256, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("hold_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("payment_holds.id", name=op.f("fk_orders_hold_id_payment_holds")), nullable=False),
        sa.Column("shipping", pg.JSONB),
        sa.Column("carrier", sa.String(64)),
        sa.Column("tracking", sa.String(128)),
        sa.Column("downloads", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True)),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("auction_id", name=op.f("uq_orders_auction_id")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_orders_hold_id")),
        sa.CheckConstraint("status IN ('pending', 'paid', 'shipped', 'fulfilled', 'refunding', 'refunded', 'cancelled')",
                           name=op.f("ck_orders_status")),
        sa.CheckConstraint("downloads >= 0", name=op.f("ck_orders_downloads")),
        sa.CheckConstraint("quantity > 0 AND amount > 0 AND fee >= 0 AND fee <= amount", name=op.f("ck_orders_amounts")),
    )
    op.create_index("ix_orders_buyer", "orders", ["buyer_id", "created_at", "id"])
    op.create_index("ix_orders_seller", "orders", ["seller_id", "created_at", "id"])
    op.create_index("ix_orders_pending", "orders", ["created_at"], postgresql_where=sa.text("status = 'pending'"))

    op.create_table(
        "ledger_journals",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("order_id", pg.UUID(as_uuid=True)),
        sa.Column("hold_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("payment_holds.id", name=op.f("fk_ledger_journals_hold_id_payment_holds"))),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_journals")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_journals_key")),
    )
    op.create_index("ix_ledger_journals_order", "ledger_journals", ["order_id"],
                    postgresql_where=sa.text("order_id IS NOT NULL"))
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("journal_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("ledger_journals.id", name=op.f("fk_ledger_entries_journal_id_ledger_journals")),
                  nullable=False),
        sa.Column("account", sa.String(80), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_nonzero")),
    )
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account", "currency"])
    # The ledger is append-only, whoever connects: a correction is a new journal. (TRUNCATE
    # is granted to no function's role: infra/migrate.py grants SELECT, INSERT, UPDATE, DELETE.)
    op.execute("""
        CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    _append_only("ledger_journals")
    _append_only("ledger_entries")

    op.create_table(
        "payout_accounts",
        sa.Column("user_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("users.id", name=op.f("fk_payout_accounts_user_id_users")), nullable=False),
        sa.Column("provider_account", sa.String(255), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_payout_accounts")),
        sa.UniqueConstraint("provider_account", name=op.f("uq_payout_accounts_provider_account")),
    )
    op.create_table(
        "payouts",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id", name=op.f("fk_payouts_user_id_users")),
                  nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("provider_ref", sa.String(255)),
        sa.Column("last_error", sa.Text),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("provider_ref", name=op.f("uq_payouts_provider_ref")),
        sa.CheckConstraint("status IN ('pending', 'paid', 'failed')", name=op.f("ck_payouts_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payouts_amount_positive")),
    )
    op.create_index("ix_payouts_user", "payouts", ["user_id", "created_at", "id"])
    op.create_index("ix_payouts_pending", "payouts", ["updated_at"], postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_table("payouts")
    op.drop_table("payout_accounts")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_journals")
    op.execute("DROP FUNCTION ledger_append_only()")
    op.drop_table("orders")
    # No sale, which the old outcomes can only say as a reserve not met.
    op.execute("UPDATE auctions SET outcome = 'reserve_not_met' WHERE outcome = 'payment_failed'")
    op.drop_constraint(op.f("ck_auctions_outcome"), "auctions", type_="check")
    op.create_check_constraint(op.f("ck_auctions_outcome"), "auctions", _OLD_OUTCOMES)
    op.drop_constraint(op.f("uq_bids_hold_id"), "bids", type_="unique")
    op.drop_column("bids", "hold_id")
    op.drop_table("payment_holds")
