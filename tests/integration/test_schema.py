"""The migrations are the schema: they match shared/tables.py, and they go down and up again."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import shared.chain.tables
import shared.embeddings.tables
import shared.market.tables
import shared.moderation.tables
import shared.notifications.tables
import shared.payments.tables  # noqa: F401
from local import postgres
from shared.tables import metadata


def test_tables_match_the_migrated_database(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_downgrade_and_upgrade_round_trip(postgres_server):
    url = postgres_server.ensure_database("kalakrut_migrations")
    postgres.migrate(url)
    engine = create_engine(url)
    config = Config(str(postgres.REPO / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    postgres.migrate(url)
    assert {"users", "follows", "proposals", "audit_log"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_money_columns_are_exact(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        types = dict(connection.execute(text(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') "
            "FROM information_schema.columns WHERE table_name = 'proposals'")).all())
        timestamps = connection.execute(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type = 'timestamp without time zone'")).scalar()
    engine.dispose()
    assert types["goal"] == types["raised_total"] == "numeric(78,0)"
    assert timestamps == 0
