"""Alembic environment: migrates the database the shared config points at."""
from alembic import context

import shared.chain.tables
import shared.embeddings.tables
import shared.market.tables
import shared.moderation.tables
import shared.notifications.tables
import shared.payments.tables  # noqa: F401
from shared.db import get_engine
from shared.tables import metadata

target_metadata = metadata


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
