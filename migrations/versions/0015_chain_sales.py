"""chain sales: artwork tokens sold for ETH through ArtworkMarket, derived from its events; orders paid on chain

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UINT256 = sa.Numeric(78, 0)
ADDRESS = sa.String(42)
_MARKET_EVENTS = "event IN ('SaleOpened', 'BidPlaced', 'SaleSettled', 'SaleCancelled')"


def upgrade() -> None:
    op.create_table(
        "chain_sales",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("sale_id", UINT256, nullable=False),
        sa.Column("seller", ADDRESS, nullable=False),
        sa.Column("token_contract", ADDRESS, nullable=False),
        sa.Column("token_id", UINT256, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("price", UINT256, nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bidder", ADDRESS),
        sa.Column("bid", UINT256),
        sa.Column("bids", sa.Integer, nullable=False),
        sa.Column("buyer", ADDRESS),
        sa.Column("amount", UINT256),
        sa.Column("fee", UINT256),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("last_block", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "sale_id", name=op.f("pk_chain_sales")),
        sa.CheckConstraint("kind IN ('fixed', 'auction')", name=op.f("ck_chain_sales_kind")),
        sa.CheckConstraint("status IN ('open', 'sold', 'unsold', 'cancelled')", name=op.f("ck_chain_sales_status")),
    )
    op.create_index("ix_chain_sales_token", "chain_sales", ["chain_id", "token_contract", "token_id", "opened_at"])
    op.create_index("ix_chain_sales_last_block", "chain_sales", ["chain_id", "last_block"])
    # A sale's events, whatever blocks they are in (shared/market/chain_sales.py); market events only.
    op.execute("CREATE INDEX ix_web3_transactions_sale ON web3_transactions "
               f"(chain_id, contract, ((args->>'saleId')::numeric)) WHERE {_MARKET_EVENTS}")

    op.alter_column("orders", "hold_id", nullable=True)
    op.add_column("orders", sa.Column("chain_id", sa.BigInteger))
    op.add_column("orders", sa.Column("sale_contract", ADDRESS))
    op.add_column("orders", sa.Column("sale_id", UINT256))
    op.add_column("orders", sa.Column("buyer_wallet", ADDRESS))
    op.create_unique_constraint(op.f("uq_orders_chain_id"), "orders", ["chain_id", "sale_contract", "sale_id"])
    # Paid by card (an authorisation) or on chain (a sale of the market contract), never both.
    op.create_check_constraint(op.f("ck_orders_paid_one_way"), "orders",
                               "(hold_id IS NULL) <> (sale_id IS NULL) "
                               "AND (sale_id IS NULL) = (chain_id IS NULL) AND (sale_id IS NULL) = (sale_contract IS NULL) "
                               "AND (sale_id IS NULL) = (buyer_wallet IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM orders WHERE sale_id IS NOT NULL")
    op.drop_constraint(op.f("ck_orders_paid_one_way"), "orders")
    op.drop_constraint(op.f("uq_orders_chain_id"), "orders")
    for column in ("buyer_wallet", "sale_id", "sale_contract", "chain_id"):
        op.drop_column("orders", column)
    op.alter_column("orders", "hold_id", nullable=False)
    op.execute("DROP INDEX ix_web3_transactions_sale")
    op.drop_table("chain_sales")
