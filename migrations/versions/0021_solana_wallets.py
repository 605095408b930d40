"""solana wallets: a Solana address (base58, 32 to 44 characters) beside the Ethereum one, and
challenges that say which kind of wallet they are for

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("solana_address", sa.String(44)))
    op.create_unique_constraint(op.f("uq_users_solana_address"), "users", ["solana_address"])
    op.create_check_constraint(op.f("ck_users_solana_address"), "users",
                               "solana_address ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'")
    # Widening a varchar rewrites nothing.
    op.alter_column("wallet_challenges", "address", type_=sa.String(44), existing_nullable=False)
    op.add_column("wallet_challenges", sa.Column("chain", sa.String(8), nullable=False,
                                                 server_default=sa.text("'ethereum'")))
    op.create_check_constraint(op.f("ck_wallet_challenges_chain"), "wallet_challenges",
                               "chain IN ('ethereum', 'solana')")


def downgrade() -> None:
    op.execute("DELETE FROM wallet_challenges WHERE chain <> 'ethereum'")
    op.drop_constraint(op.f("ck_wallet_challenges_chain"), "wallet_challenges", type_="check")
    op.drop_column("wallet_challenges", "chain")
    op.alter_column("wallet_challenges", "address", type_=sa.String(42), existing_nullable=False)
    op.drop_constraint(op.f("ck_users_solana_address"), "users", type_="check")
    op.drop_constraint(op.f("uq_users_solana_address"), "users", type_="unique")
    op.drop_column("users", "solana_address")
