"""Alembic environment: migrates the database the shared config points at."""
from alembic import context

from shared import market_models  # noqa: F401  (registers the marketplace tables on Base)
from shared.chain_models import Base  # also registers the chain tables on Base
from shared.db import get_engine

target_metadata = Base.metadata


def run() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        _migrate(connectable)
        return
    with get_engine().connect() as connection:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported: run against a database")
run()
